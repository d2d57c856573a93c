"""mmagent: Agent Attention backbones for OpenMMLab 2.0 (mmdet, mmseg, mmpretrain)."""
import os.path as osp
import re
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))


def get_version():
    with open(osp.join(HERE, 'mmagent', 'version.py'), encoding='utf-8') as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(name):
    """Requirement lines of ``requirements/<name>.txt`` without comments."""
    lines = []
    with open(osp.join(HERE, 'requirements', name), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                lines.append(line)
    return lines


class BuildPyWithMim(build_py):
    """Ship ``configs/`` and ``model-index.yml`` in ``mmagent/.mim`` (where
    mmdet keeps its own), so model names and configs resolve after a plain
    ``pip install .``. An editable install reads them from the source tree.
    """

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        target = osp.join(self.build_lib, 'mmagent', '.mim')
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(osp.join(HERE, 'configs'),
                        osp.join(target, 'configs'))
        shutil.copy(osp.join(HERE, 'model-index.yml'), target)


def readme():
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


setup(
    name='mmagent',
    version=get_version(),
    description='Efficient-attention backbones (Agent-PVT, Agent-Swin) for '
    'OpenMMLab 2.0: mmdet, mmseg and mmpretrain; AgentSD for diffusers',
    long_description=readme(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
    python_requires='>=3.8',
    install_requires=parse_requirements('runtime.txt'),
    extras_require={
        'mim': parse_requirements('mminstall.txt'),
        'optional': parse_requirements('optional.txt'),
        'diffusion': parse_requirements('diffusion.txt'),
        'deploy': parse_requirements('deploy.txt'),
        'tests': parse_requirements('tests.txt'),
        'all': (parse_requirements('mminstall.txt') +
                parse_requirements('optional.txt') +
                parse_requirements('diffusion.txt') +
                parse_requirements('deploy.txt') +
                parse_requirements('tests.txt')),
    },
    cmdclass={'build_py': BuildPyWithMim},
    zip_safe=False,
)
