# mmagent: `make test` and `make demo` set the environment up on first use.
#
#   VENV=path        where the virtual environment lives (default: .venv)
#   PIP_EXTRA=...    extra pip flags, e.g. PIP_EXTRA="--find-links ../shared/wheels"
#   PYTEST_ARGS=...  extra pytest arguments
#   PYTEST_JOBS=n    pytest-xdist workers (default 2: this machine's cores)

VENV ?= .venv
PYTHON ?= python3
PIP_EXTRA ?=
PYTEST_ARGS ?=
PYTEST_JOBS ?= 2

PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PIN := -c requirements/pinned.txt
STAMP := $(VENV)/.mmagent-env

.PHONY: env test test-fast test-gpu benchmark-gpu mmcv-cuda demo clean-env

env: $(STAMP)

$(STAMP): requirements/pinned.txt requirements/runtime.txt requirements/mminstall.txt \
          requirements/optional.txt requirements/diffusion.txt requirements/deploy.txt \
          requirements/tests.txt \
          setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# mmcv's and mmengine's setup code still import pkg_resources: setuptools<82.
	$(PIP) install $(PIP_EXTRA) $(PIN) setuptools wheel
	# torch first: mmcv's ops are compiled against it.
	$(PIP) install $(PIP_EXTRA) $(PIN) torch torchvision
	$(PIP) install $(PIP_EXTRA) $(PIN) numpy addict packaging Pillow pyyaml yapf opencv-python mmengine
	# Without --no-build-isolation pip builds mmcv in a torch-less sandbox and silently
	# drops the compiled ops. The first build takes ~30 min on 2 cores; pip caches the wheel.
	MMCV_WITH_OPS=1 MAX_JOBS=$${MAX_JOBS:-2} $(PIP) install --no-build-isolation $(PIP_EXTRA) $(PIN) mmcv
	$(PIP) install $(PIP_EXTRA) $(PIN) -r requirements/mminstall.txt -r requirements/optional.txt \
	    -r requirements/diffusion.txt -r requirements/deploy.txt -r requirements/tests.txt
	$(PIP) install $(PIP_EXTRA) $(PIN) --no-build-isolation --no-deps -e .
	$(PY) -c "import mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models, mmagent, mmagent.diffusion; print('environment ok')"
	touch $(STAMP)

test: $(STAMP)
	# the import rules of docs/architecture.md (contracts in .importlinter)
	$(VENV)/bin/lint-imports
	# the documentation site: no broken link, reference or page
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet \
	    --site-dir $(VENV)/site
	$(PY) -m pytest tests -n $(PYTEST_JOBS) --dist worksteal --durations=15 $(PYTEST_ARGS)

# The unit tests alone (no end-to-end tool, demo or whole-model run: the
# `slow` marker), a few minutes.
test-fast: $(STAMP)
	$(PY) -m pytest tests -n $(PYTEST_JOBS) --dist worksteal -m "not slow" $(PYTEST_ARGS)

# The GPU suite (tests marked `cuda`, docs/get_started.md#gpus): families in
# fp32/fp16/bf16 against the CPU's float64, fused SDPA kernels in training,
# AMP steps of Mask R-CNN and UperNet, compile, BiViT's int8 GEMMs, AgentSD
# fp16, DDP over NCCL; a few minutes on one GPU. The environment needs mmcv
# with CUDA ops: `make mmcv-cuda`, then
# `make test-gpu VENV=.venv-gpu PIP_EXTRA="--find-links wheels-cuda"`.
test-gpu: $(STAMP)
	$(PY) -c "import sys, torch; torch.cuda.is_available() or sys.exit('make test-gpu: torch sees no CUDA GPU')"
	$(PY) -c "import sys, mmcv.ops; mmcv.ops.get_compiling_cuda_version() != 'not available' or sys.exit('make test-gpu: this mmcv has no CUDA ops (make mmcv-cuda)')"
	$(PY) -m pytest tests -m cuda $(PYTEST_ARGS)

# The GPU speed tables: docs/benchmarks/gpu-<device>.json and markdown.
benchmark-gpu: $(STAMP)
	$(PY) tools/analysis_tools/benchmark_backbone.py --suite gpu

# mmcv 2.1.0 with CUDA ops for the pinned torch, into wheels-cuda/
# (TORCH_CUDA_ARCH_LIST and MAX_JOBS as tools/misc/build_mmcv_cuda.sh says;
# ~25 min per architecture on 2 cores).
mmcv-cuda: $(STAMP)
	PYTHON=$(PY) bash tools/misc/build_mmcv_cuda.sh wheels-cuda

# Classification (then BiViT), segmentation and detection on the embedded
# synthetic data, on CPU (about 18 minutes on 2 cores); see
# demo/run_demo.py.
demo: $(STAMP)
	$(PY) demo/run_demo.py --strict

clean-env:
	rm -rf $(VENV)
