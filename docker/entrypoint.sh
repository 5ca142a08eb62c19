#!/bin/sh
# The image's entrypoint: a Prefect worker, a Prefect command, or the CLI.
#
#   worker [ARGS]        prefect worker start --pool $QDRANT_REBUILD_WORK_POOL [ARGS]
#   prefect ARGS         prefect ARGS, unchanged: a Kubernetes worker starts each
#                        flow run's Job with `prefect flow-run execute` as its args
#   qdrant-rebuild ARGS  the CLI, named
#   anything else        the CLI: `docker run IMAGE rebuild --config cortex`
#   nothing              the CLI's help
set -eu

case "${1:-}" in
    worker)
        shift
        pool="${QDRANT_REBUILD_WORK_POOL:-qdrant-rebuild}"
        exec prefect worker start --pool "$pool" "$@"
        ;;
    prefect | qdrant-rebuild)
        exec "$@"
        ;;
    "")
        exec qdrant-rebuild --help
        ;;
    *)
        exec qdrant-rebuild "$@"
        ;;
esac
