"""The test suite runs offline: a connection to anything but this machine
is refused with one clear error, in pytest's process (tests/conftest.py
loads this file) and in every Python process a test starts (conftest puts
this folder on their PYTHONPATH, so Python runs it at start-up)."""
import ipaddress
import socket

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _is_local(address):
    if not isinstance(address, tuple):  # AF_UNIX paths and the like
        return True
    host = address[0]
    if host in ('localhost', ''):
        return True
    try:
        return ipaddress.ip_address(host.split('%')[0]).is_loopback
    except ValueError:  # a name: resolving it would reach a DNS server
        return False


def _check(address):
    if not _is_local(address):
        raise ConnectionRefusedError(
            f'the tests run offline: a connection to {address!r} was '
            f'refused (serve what a test needs on 127.0.0.1)')


def _guarded_connect(self, address):
    _check(address)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
