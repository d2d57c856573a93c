#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py args]
# One process per GPU through torchrun; without CUDA the processes run on the
# CPU and talk over gloo (tools/train.py switches the backend).
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

# The config, checkpoint and data checks run once, here, before torchrun
# starts the workers: a bad run ends with one message and exit status 1.
PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
$PYTHON $(dirname "$0")/train.py $CONFIG --preflight ${@:3} || exit $?

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
$PYTHON -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    $(dirname "$0")/train.py \
    $CONFIG \
    --launcher pytorch ${@:3}
