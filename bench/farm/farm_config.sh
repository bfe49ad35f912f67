# Sourced by the bench scripts. farm_scrape_configs <targets> <farm port> <interval>: the global
# and scrape_configs sections of a config that scrapes every petrel-farm target once, as job
# "farm" (target i is /metrics/i, selected through its `t` label). Prometheus, petrel and
# vmagent all read it.
farm_scrape_configs() {
  local targets=$1 port=$2 interval=$3 i
  printf 'global:\n  scrape_interval: %s\n  scrape_timeout: %s\nscrape_configs:\n' "$interval" "$interval"
  printf '  - job_name: farm\n    relabel_configs:\n'
  printf '      - source_labels: [t]\n        target_label: __metrics_path__\n'
  printf '        replacement: /metrics/$1\n    static_configs:\n'
  for ((i = 0; i < targets; i++)); do
    printf '      - targets: ["127.0.0.1:%s"]\n        labels: {t: "%d"}\n' "$port" "$i"
  done
}
