#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [--max-restarts N] [train.py args]
# One process per GPU through torchrun; without CUDA the processes run on the
# CPU and talk over gloo (tools/train.py switches the backend). Several
# machines: run it on each with NNODES, NODE_RANK, MASTER_ADDR (and PORT).
# --max-restarts N (one machine): torchrun's elastic agent restarts the
# workers up to N times when one dies; the restarted workers resume from the
# newest complete checkpoint of the work dir.
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

MAX_RESTARTS=0
PY_ARGS=()
set -- "${@:3}"
while [ $# -gt 0 ]; do
    case "$1" in
        --max-restarts)
            [ $# -ge 2 ] || { echo "--max-restarts takes a number" >&2; exit 1; }
            MAX_RESTARTS=$2; shift 2 ;;
        --max-restarts=*) MAX_RESTARTS=${1#*=}; shift ;;
        *) PY_ARGS+=("$1"); shift ;;
    esac
done
case "$MAX_RESTARTS" in
    ''|*[!0-9]*) echo "--max-restarts takes a number, got '$MAX_RESTARTS'" >&2; exit 1 ;;
esac
if [ "$MAX_RESTARTS" -gt 0 ] && [ "$NNODES" -gt 1 ]; then
    # torchrun's agent on each machine restarts its own workers only
    echo "--max-restarts runs on one machine (NNODES=1), got NNODES=$NNODES: on a cluster, requeue the job with --resume" >&2
    exit 1
fi

# The config, checkpoint and data checks run once, here, before torchrun
# starts the workers: a bad run ends with one message and exit status 1.
PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
$PYTHON $(dirname "$0")/train.py $CONFIG --preflight "${PY_ARGS[@]}" || exit $?

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
$PYTHON -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    --max-restarts=$MAX_RESTARTS \
    $(dirname "$0")/train.py \
    $CONFIG \
    --launcher pytorch "${PY_ARGS[@]}"
