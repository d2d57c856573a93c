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


def strongly_connected(graph):
    """Tarjan's components of more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_strongly_connected_finds_a_circle():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert strongly_connected(graph) == [['a', 'b', 'c']]


def test_no_import_circle():
    """No module of mmagent imports, directly or not, one that imports it
    back (function-level imports included)."""
    graph = grimp.build_graph('mmagent')
    modules = {m: graph.find_modules_directly_imported_by(m)
               for m in graph.modules}
    assert len(modules) > 50
    assert strongly_connected(modules) == []
