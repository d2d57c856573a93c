# Copyright (c) mmagent contributors. All rights reserved.
"""Downloads into mmagent's cache, complete or not at all.

The cache is ``$MMAGENT_HOME`` (default ``~/.cache/mmagent``). A download
streams into ``<file>.partial`` and is renamed only once all of it has
arrived: the byte count matches ``Content-Length`` (``torch.hub``'s
downloader keeps a file that a dropped connection cut short) and, when one
is given, the SHA-256 matches. Anything else removes the partial file and
raises one :class:`DownloadError`.
"""
import hashlib
import os
import os.path as osp
import urllib.error
import urllib.request
from http.client import HTTPException
from typing import Optional

from .checkpoint import CheckpointLoadError

CHUNK = 1 << 20


class DownloadError(CheckpointLoadError):
    """A download that failed or did not verify; nothing was kept."""


def mmagent_home() -> str:
    """mmagent's cache folder: ``$MMAGENT_HOME``, else
    ``~/.cache/mmagent``."""
    return osp.expanduser(
        os.environ.get('MMAGENT_HOME') or osp.join('~', '.cache', 'mmagent'))


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dst: str, sha256: Optional[str] = None,
             timeout: float = 60.) -> str:
    """Fetch ``url`` to ``dst`` (see the module) and return ``dst``.

    Raises:
        DownloadError: unreachable, refused by the server, cut short or
            not matching ``sha256``; the message names the URL and ``dst``.
    """
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    partial = f'{dst}.partial'
    digest, received, expected = hashlib.sha256(), 0, None
    try:
        request = urllib.request.Request(
            url, headers={'User-Agent': 'mmagent'})
        with urllib.request.urlopen(request, timeout=timeout) as response, \
                open(partial, 'wb') as out:
            length = response.headers.get('Content-Length')
            expected = int(length) if length and length.isdigit() else None
            for chunk in iter(lambda: response.read(CHUNK), b''):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
    except (urllib.error.URLError, HTTPException, OSError, ValueError) as e:
        _remove(partial)
        reason = (f'HTTP {e.code} {e.reason}' if isinstance(
            e, urllib.error.HTTPError) else getattr(e, 'reason', None) or e)
        raise DownloadError(f'cannot download {url}: {reason}') from e
    if expected is not None and received != expected:
        _remove(partial)
        raise DownloadError(
            f'the download of {url} was cut short: {received} of '
            f'{expected} bytes arrived; nothing was kept')
    if sha256 and digest.hexdigest() != sha256.lower():
        _remove(partial)
        raise DownloadError(
            f'{url} does not match its SHA-256 (expected {sha256}, got '
            f'{digest.hexdigest()}): the file changed or is damaged; nothing '
            f'was kept')
    os.replace(partial, dst)
    return dst


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
