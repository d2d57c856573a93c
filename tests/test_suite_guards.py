"""The suite's own guards (tests/conftest.py): offline, and a cache of its
own, in pytest's process and in the tools the tests start."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

REMOTE = ('192.0.2.1', 80)  # TEST-NET-1: never routed


def test_remote_connections_are_refused_in_process():
    with pytest.raises(ConnectionRefusedError, match='run offline'):
        socket.create_connection(REMOTE, timeout=1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with udp, pytest.raises(ConnectionRefusedError, match='run offline'):
        udp.connect_ex(REMOTE)


def test_loopback_connections_still_work():
    server = socket.create_server(('127.0.0.1', 0))
    with server, socket.create_connection(server.getsockname(), timeout=5):
        pass


def test_remote_connections_are_refused_in_started_tools():
    code = ('import socket\n'
            f'socket.create_connection({REMOTE!r}, timeout=1)\n')
    result = subprocess.run([sys.executable, '-c', code], text=True,
                            capture_output=True, timeout=120)
    assert result.returncode != 0
    assert 'ConnectionRefusedError: the tests run offline' in result.stderr


def test_cache_is_not_the_users():
    home = os.environ['MMAGENT_HOME']
    assert osp.isdir(home)
    assert osp.realpath(home) != osp.realpath(
        osp.expanduser(osp.join('~', '.cache', 'mmagent')))
    from mmagent.utils.download import mmagent_home
    assert osp.realpath(mmagent_home()) == osp.realpath(home)
