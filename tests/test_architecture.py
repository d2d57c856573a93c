"""The structure docs/architecture.md describes, beyond .importlinter's
contracts (which `make test` checks with lint-imports)."""
import subprocess
import sys

import grimp
from conftest import REPO_ROOT

# What `import mmagent` must not load: the task libraries are imported by
# the configs that use them, the extras only where they are used.
# (transformers is not listed: mmengine's optimizer builder imports it
# wherever it is installed.)
NOT_AT_IMPORT = ('mmdet', 'mmseg', 'mmpretrain', 'diffusers', 'onnx',
                 'onnxruntime', 'onnxscript')


def test_import_mmagent_loads_no_task_library_nor_extra():
    script = ('import sys, mmagent\n'
              f'print(sorted(m for m in {NOT_AT_IMPORT!r} '
              'if m in sys.modules))\n'
              "print('AgentPVT' in mmagent.__all__)")
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ['[]', 'True']


def test_no_import_circle():
    """No module of mmagent imports, directly or not, one that imports it
    back (function-level imports included)."""
    graph = grimp.build_graph('mmagent')
    edges = [(module, imported) for module in graph.modules
             for imported in graph.find_modules_directly_imported_by(module)]
    assert len(edges) > 100
    assert [(module, imported) for module, imported in edges
            if graph.chain_exists(importer=imported, imported=module)] == []
