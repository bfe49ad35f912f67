# Petrel container image: a multi-stage build on Debian 12 (bookworm).
#
#   docker build -t <registry>/petrel:0.1.0 .
#
# Not built or tested in petrel's own CI (no container runtime or registry there): the chart
# tests render and validate manifests only. The build stage installs the -dev packages that
# scripts/install-deps.sh lists for the build; the runtime stage only their shared libraries.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config git ca-certificates \
      libcurl4-openssl-dev libprotobuf-dev protobuf-compiler libsnappy-dev libyaml-cpp-dev \
      libfmt-dev libspdlog-dev libre2-dev libcpp-httplib-dev nlohmann-json3-dev libabsl-dev \
      libssl-dev zlib1g-dev libzstd-dev libxxhash-dev libdeflate-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPETREL_BUILD_TESTS=OFF \
 && cmake --build /build --target petrel -j"$(nproc)" \
 && strip --strip-debug /build/agent/petrel \
 && /build/agent/petrel --version

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libprotobuf32 libsnappy1v5 libyaml-cpp0.7 libfmt9 \
      libspdlog1.10 libre2-9 libcpp-httplib0.11 libabsl20220623 libssl3 zlib1g libzstd1 \
      libxxhash0 libdeflate0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 petrel \
 && useradd --system --uid 10001 --gid petrel --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin petrel \
 && mkdir -p /data /etc/petrel \
 && chown petrel:petrel /data
COPY --from=build /build/agent/petrel /usr/local/bin/petrel
USER 10001:10001
WORKDIR /data
EXPOSE 9090
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/petrel"]
CMD ["--config.file=/etc/petrel/petrel.yml", "--storage.agent.path=/data"]
