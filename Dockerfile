# rendergan in a container: the release binary on Debian with Mesa's software Vulkan driver
# (lavapipe), so it renders on any node; on NVIDIA GPU nodes the NVIDIA container toolkit adds
# the GPU's Vulkan driver (graphics capability below) and rendergan picks the GPU.
#   docker build -t rendergan .
#   docker run --rm -v $PWD/data:/data rendergan generate -c /data/config.yaml -o /data/out
FROM rust:1.87-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/rendergan

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/rendergan /usr/local/bin/rendergan
COPY configs /opt/rendergan/configs
COPY scenes /opt/rendergan/scenes
# NVIDIA GPUs: expose the Vulkan driver to the container (needs the NVIDIA container toolkit)
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
WORKDIR /data
ENTRYPOINT ["rendergan"]
CMD ["--help"]
