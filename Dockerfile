# fastbert serve in a container, built from Debian 12 packages only. The image
# holds the runtime side (no LibTorch); the model comes from a volume:
#   docker build -t fastbert .
#   docker run --rm -p 8080:8080 -v "$PWD/out/demo:/models:ro" fastbert \
#     serve --model qa=/models/student-sparse80-int8.fbm --host 0.0.0.0 --port 8080 \
#     --max-seq 128 --doc-stride 64 --max-query 32
# deploy/ has the Kubernetes and KServe manifests (docs/serve.md).
FROM debian:12 AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      libdnnl-dev ocl-icd-opencl-dev opencl-headers libxbyak-dev libsentencepiece-dev libyaml-cpp-dev \
      libhdf5-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libutf8proc-dev libspdlog-dev \
      libfmt-dev libmicrohttpd-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN rm -rf build && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFASTBERT_BUILD_TRAINING=OFF >/dev/null \
 && cmake --build build --target fastbert -j"$(nproc)"

FROM debian:12-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libdnnl2 libhdf5-103-1 libgomp1 libmicrohttpd12 libsentencepiece0 libutf8proc2 ocl-icd-libopencl1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/cli/fastbert /usr/local/bin/fastbert
# Unprivileged; the service writes nothing.
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/fastbert"]
CMD ["serve", "--help"]
