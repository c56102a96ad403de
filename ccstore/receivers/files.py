"""The ``files`` receiver: follow log files, parse them, store ClusterCockpit log messages.

Configuration entry (receivers file)::

    {"type": "files", "paths": ["/var/log/*.log", "/var/log/syslog"],
     "cluster": "alex", "hostname": "<default: this machine>", "format": "auto"}

Also ``timezone`` (for timestamps without a zone; default local time) and
``start_at`` (``"beginning"``, the default, or ``"end"``: where to start in a
file that has no saved position).

How files are followed:

- the globs are expanded on every poll, so new files are picked up;
- a file is known by its identity (device, inode) plus a fingerprint (hash of
  its first bytes), not by its name.  A file renamed away (rotation by
  rename-and-create) is read to its end before it is let go, and the new file
  at the old name is read from its start;
- a file that shrinks, or whose first bytes change, was truncated
  (rotation by copy-truncate): reading starts again at 0; the copy, when it is
  found (matched by a glob or beside the file), is read from where the
  original had been read to, so no line is lost or stored twice;
- files that disappear are read to their end through the open descriptor;
- the position (device, inode, resume offset, fingerprint) is saved with
  :meth:`ccstore.Store.write_batches` ``state=`` in the same transaction as the
  rows, under the key ``files:<path>``, so a restart neither loses nor repeats
  lines.  The resume offset is the start of the entry still pending (a stack
  trace may continue), so that entry is parsed again after a restart;
- an unterminated last line waits for its newline; a pending multi-line entry
  is stored once its file is idle for a poll, and on :meth:`FileReceiver.close`.
"""
from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import socket
import stat
import threading
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .._types import RowBatch
from ..logparse import FORMATS, LogParser

__all__ = ["FileReceiver", "STATE_PREFIX", "FINGERPRINT_BYTES"]

log = logging.getLogger("ccstore.receivers.files")

#: state keys are this prefix plus the file path
STATE_PREFIX = "files:"
#: how many leading bytes identify a file's content
FINGERPRINT_BYTES = 1024
#: a fingerprint shorter than this never identifies a file on its own (without
#: the same device and inode)
_MIN_COPY_FINGERPRINT = 64

Identity = Tuple[int, int]


def _fingerprint(fd: int, length: int) -> Tuple[str, int]:
    """``(hash, length)`` of the first ``length`` bytes of an open file."""
    data = os.pread(fd, length, 0) if length > 0 else b""
    return hashlib.sha1(data).hexdigest()[:32], len(data)


class _File:
    """A followed file: its open descriptor, read position and parser."""

    __slots__ = ("path", "fd", "ident", "pos", "size", "parser", "fp", "fplen", "rotated",
                 "dirty")

    def __init__(self, path: str, fd: int, ident: Identity, parser: LogParser) -> None:
        self.path = path
        self.fd = fd
        self.ident = ident
        self.pos = parser.offset
        self.size = -1
        self.parser = parser
        self.fp = ""
        self.fplen = 0
        #: no longer matched by a glob at its identity (renamed away or deleted)
        self.rotated = False
        #: position changed since the last saved state
        self.dirty = False

    def update_fingerprint(self) -> None:
        if self.fplen < FINGERPRINT_BYTES:
            self.fp, self.fplen = _fingerprint(self.fd, FINGERPRINT_BYTES)

    def fingerprint_matches(self, fp: str, fplen: int) -> bool:
        return fplen > 0 and _fingerprint(self.fd, fplen) == (fp, fplen)

    def state(self) -> str:
        p = self.parser
        return json.dumps({"dev": self.ident[0], "ino": self.ident[1], "offset": p.safe_offset,
                           "fp": self.fp, "fplen": self.fplen, "t": p.last_time},
                          separators=(",", ":"))


class FileReceiver:
    """Follows the files matched by ``paths`` (globs) into ``store``.

    Drive it with :meth:`poll_once` (deterministic: read what is there, store
    it, return counts) or :meth:`run` in a thread until an event is set.
    ``store`` is anything with ``write_batches(batches, state=)`` and
    ``get_state(key)`` (a :class:`ccstore.Store`).
    """

    def __init__(self, store: Any, paths: Union[str, Sequence[str]], *, cluster: str,
                 hostname: Optional[str] = None, format: str = "auto",
                 timezone: Optional[str] = None, start_at: str = "beginning",
                 name: str = "files", chunk_size: int = 1 << 20,
                 batch_bytes: int = 8 << 20) -> None:
        if isinstance(paths, str):
            paths = [paths]
        paths = [os.path.abspath(os.path.expanduser(p)) for p in paths]
        if not paths:
            raise ValueError("files receiver: no paths given")
        if not cluster:
            raise ValueError("files receiver: a cluster is required")
        if format not in FORMATS:
            raise ValueError(f"files receiver: unknown format {format!r}, expected one of "
                             f"{', '.join(FORMATS)}")
        if start_at not in ("beginning", "end"):
            raise ValueError("files receiver: start_at must be 'beginning' or 'end'")
        self.store = store
        self.paths = paths
        self.cluster = cluster
        self.hostname = hostname or socket.gethostname()
        self.format = format
        self.timezone = timezone
        self.start_at = start_at
        self.name = name
        self.chunk_size = chunk_size
        self.batch_bytes = batch_bytes
        self._files: Dict[Identity, _File] = {}
        #: truncated files' former content: (fingerprint, length, offset, last time, path)
        self._ghosts: List[Tuple[str, int, int, Optional[int], str]] = []
        self._first_poll = True
        self._lock = threading.Lock()
        self._rows: List[tuple] = []
        self._lines = 0
        self._state: Dict[str, str] = {}
        self._pending_bytes = 0
        self._warned: set = set()
        self.counters: Dict[str, int] = {
            "polls": 0, "files_opened": 0, "rotations": 0, "truncations": 0, "lines": 0,
            "written": 0, "skipped": 0, "bytes": 0}

    # ------------------------------------------------------------------ public
    def poll_once(self) -> Dict[str, int]:
        """Read everything new in every matched file and store it.

        Returns this poll's counts: ``files`` (followed now), ``lines`` read,
        ``written`` rows, ``skipped`` lines of binary garbage, ``bytes`` read,
        ``opened``, ``rotations`` and ``truncations`` seen.
        """
        with self._lock:
            before = dict(self.counters)
            found = self._scan()
            if self._first_poll:
                self._recover_rotated(found)
                self._first_poll = False
            # files already followed: truncation, rotation, new data
            for ident, f in list(self._files.items()):
                path = found.get(ident)
                if path is None:
                    if not f.rotated:
                        f.rotated = True
                        self.counters["rotations"] += 1
                        log.info("%s: %s was rotated or removed; reading it to its end",
                                 self.name, f.path)
                else:
                    f.path = path
                    f.rotated = False
                self._follow(f)
            # new files
            for ident, path in found.items():
                if ident not in self._files:
                    self._open(path, ident)
            self._ghosts.clear()
            self._commit()
            self.counters["polls"] += 1
            out = {k: self.counters[k] - before[k] for k in
                   ("lines", "written", "skipped", "bytes", "rotations", "truncations")}
            out["opened"] = self.counters["files_opened"] - before["files_opened"]
            out["files"] = len(self._files)
            return out

    def run(self, stop_event: threading.Event, interval: float = 1.0) -> None:
        """Poll every ``interval`` seconds until ``stop_event`` is set, then :meth:`close`."""
        try:
            while not stop_event.is_set():
                try:
                    self.poll_once()
                except Exception:  # a bad file or a failed commit must not end the receiver
                    log.exception("%s: poll failed", self.name)
                stop_event.wait(interval)
        finally:
            self.close()

    def close(self) -> None:
        """Store pending multi-line entries, save positions, close the files."""
        with self._lock:
            for f in self._files.values():
                self._take(f, f.parser.flush())
            try:
                self._commit()
            finally:
                for f in self._files.values():
                    os.close(f.fd)
                self._files.clear()

    def __enter__(self) -> "FileReceiver":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def info(self) -> Dict[str, Any]:
        """Counters and the files followed (for statistics)."""
        with self._lock:
            return {"type": "files", "paths": list(self.paths), **self.counters,
                    "files": [{"path": f.path, "offset": f.parser.safe_offset,
                               "rotated": f.rotated} for f in self._files.values()]}

    # ------------------------------------------------------------------ discovery
    def _scan(self) -> Dict[Identity, str]:
        """Identity -> path of the regular files the globs match now (first path wins)."""
        found: Dict[Identity, str] = {}
        for pattern in self.paths:
            names = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            for path in names:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    found.setdefault((st.st_dev, st.st_ino), path)
        return found

    def _saved(self, path: str) -> Optional[Dict[str, Any]]:
        raw = self.store.get_state(STATE_PREFIX + path)
        if not raw:
            return None
        try:
            s = json.loads(raw)
            s["ident"] = (int(s["dev"]), int(s["ino"]))
            s["offset"] = int(s["offset"])
            s["fplen"] = int(s.get("fplen") or 0)
            s["path"] = path
            return s
        except (ValueError, KeyError, TypeError):
            log.warning("%s: ignoring an unreadable saved position for %s", self.name, path)
            return None

    def _open(self, path: str, ident: Identity) -> Optional[_File]:
        """Start following a file not followed before; find where to start reading."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            if path not in self._warned:
                self._warned.add(path)
                log.warning("%s: cannot read %s: %s", self.name, path, exc)
            return None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != ident:  # replaced between the scan and the open
            os.close(fd)
            return None
        offset, last_time = self._resume_point(path, fd, ident, st.st_size)
        f = _File(path, fd, ident, self._parser(path, offset, last_time))
        f.update_fingerprint()
        self._files[ident] = f
        self.counters["files_opened"] += 1
        f.dirty = True
        self._follow(f)
        return f

    def _parser(self, path: str, offset: int, last_time: Optional[int]) -> LogParser:
        return LogParser(self.format, hostname=self.hostname, location=path,
                         tz=self.timezone, offset=offset, last_time=last_time)

    def _resume_point(self, path: str, fd: int, ident: Identity,
                      size: int) -> Tuple[int, Optional[int]]:
        """Offset to start a newly found file at, and the last entry time known there.

        In order: the position saved for this path when it is the same file
        (identity and fingerprint); a followed or truncated file whose first
        bytes this file repeats (it is a copy: start where the original was
        read to); else the start (or the end, with ``start_at="end"``).
        """
        saved = self._saved(path)
        if saved is not None and saved["ident"] == ident and saved["offset"] <= size \
                and _fingerprint(fd, saved["fplen"]) == (saved.get("fp"), saved["fplen"]):
            return saved["offset"], saved.get("t")
        copies: List[Tuple[str, int, int, Optional[int]]] = [
            (g[0], g[1], g[2], g[3]) for g in self._ghosts]
        copies += [(f.fp, f.fplen, f.parser.safe_offset, f.parser.last_time)
                   for f in self._files.values() if not f.rotated]
        if saved is not None and saved["ident"] != ident:
            copies.append((saved.get("fp"), saved["fplen"], saved["offset"], saved.get("t")))
        for fp, fplen, offset, last_time in copies:
            if fplen >= _MIN_COPY_FINGERPRINT and offset <= size \
                    and _fingerprint(fd, fplen) == (fp, fplen):
                log.info("%s: %s is a copy of a file read up to byte %d; starting there",
                         self.name, path, offset)
                return offset, last_time
        return (size if self.start_at == "end" else 0), None

    def _recover_rotated(self, found: Dict[Identity, str]) -> None:
        """After a restart: finish files rotated away while nobody was reading.

        A saved position whose file is no longer at its path (and not matched
        by a glob elsewhere) is looked for beside that path, by identity and
        fingerprint (renamed) or by fingerprint (copied before a truncation),
        and read from the saved offset to its end.
        """
        matched = set(found.values())
        for ident, path in list(found.items()):
            saved = self._saved(path)
            if saved is None or saved["ident"] == ident:
                continue
            if saved["ident"] in found:
                continue  # renamed within the globs: found and resumed by identity
            for candidate in self._siblings(path, matched):
                if self._drain_if_same(candidate, saved):
                    break

    def _siblings(self, path: str, exclude: set) -> List[str]:
        """Files beside ``path`` whose names start with its name (``app.log.1``, ...)."""
        directory, base = os.path.split(path)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return []
        out = []
        for n in names:
            p = os.path.join(directory, n)
            if n != base and n.startswith(base) and p not in exclude and os.path.isfile(p):
                out.append(p)
        return out

    def _drain_if_same(self, path: str, saved: Dict[str, Any]) -> bool:
        """Read ``path`` from the saved offset to its end if it is the saved file."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            same = (st.st_dev, st.st_ino) == saved["ident"]
            fplen = saved["fplen"]
            if saved["offset"] > st.st_size or (not same and fplen < _MIN_COPY_FINGERPRINT):
                return False
            if _fingerprint(fd, fplen) != (saved.get("fp"), fplen):
                return False
            log.info("%s: reading the rest of %s (rotated from %s) from byte %d", self.name,
                     path, saved["path"], saved["offset"])
            f = _File(path, fd, (st.st_dev, st.st_ino),
                      self._parser(saved["path"], saved["offset"], saved.get("t")))
            f.rotated = True
            f.update_fingerprint()
            self._read(f)
            self._take(f, f.parser.finish())
            self._commit()
            return True
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ reading
    def _follow(self, f: _File) -> None:
        """One poll of a followed file: truncation check, new data, idle flush."""
        try:
            st = os.fstat(f.fd)
        except OSError:
            return
        size = st.st_size
        if size != f.size:
            if size < f.pos or (f.fplen and not f.fingerprint_matches(f.fp, f.fplen)):
                self._truncated(f)
            f.size = size
        f.parser.set_reference_time(st.st_mtime)
        if self._read(f) == 0:
            # idle: a pending multi-line entry is complete; a rotated file is done
            if f.rotated:
                self._take(f, f.parser.finish())
                self._state[STATE_PREFIX + f.path] = f.state() if f.dirty else \
                    self._state.get(STATE_PREFIX + f.path, f.state())
                os.close(f.fd)
                del self._files[f.ident]
                return
            if f.parser.pending:
                self._take(f, f.parser.flush())
        f.update_fingerprint()
        if f.dirty and not f.rotated:
            self._state[STATE_PREFIX + f.path] = f.state()
            f.dirty = False

    def _truncated(self, f: _File) -> None:
        """Copy-truncate: remember what was read of the old content, start again at 0."""
        self.counters["truncations"] += 1
        self._take(f, f.parser.flush())
        p = f.parser
        log.info("%s: %s was truncated (read up to byte %d); reading from the start",
                 self.name, f.path, p.offset)
        if f.fplen:
            ghost = (f.fp, f.fplen, p.offset, p.last_time, f.path)
            self._ghosts.append(ghost)
            matched = {g.path for g in self._files.values()}
            for candidate in self._siblings(f.path, matched):
                saved = {"ident": (-1, -1), "offset": p.offset, "fp": f.fp, "fplen": f.fplen,
                         "t": p.last_time, "path": f.path}
                if self._drain_if_same(candidate, saved):
                    self._ghosts.remove(ghost)
                    break
        f.parser = self._parser(f.path, 0, p.last_time)
        f.pos = 0
        f.fp, f.fplen = "", 0
        f.update_fingerprint()
        f.dirty = True

    def _read(self, f: _File) -> int:
        """Feed everything after the read position to the parser; bytes read."""
        total = 0
        while True:
            try:
                data = os.pread(f.fd, self.chunk_size, f.pos)
            except OSError as exc:
                log.warning("%s: reading %s failed: %s", self.name, f.path, exc)
                break
            if not data:
                break
            f.pos += len(data)
            total += len(data)
            self.counters["bytes"] += len(data)
            self._take(f, f.parser.feed(data))
            if self._pending_bytes >= self.batch_bytes:
                self._commit()
        return total

    def _take(self, f: _File, rows: List[tuple]) -> None:
        """Queue rows of ``f`` (and its new position) for the next commit."""
        p = f.parser
        self._lines += p.lines
        self.counters["lines"] += p.lines
        self.counters["skipped"] += p.skipped
        p.lines = p.skipped = 0
        if rows:
            self._rows.extend(rows)
            self._pending_bytes += sum(len(r[9]) for r in rows) + 64 * len(rows)
        f.dirty = True
        self._state[STATE_PREFIX + f.path] = f.state()

    def _commit(self) -> None:
        """One transaction: the queued rows and the positions they lead to."""
        if not self._rows and not self._state:
            return
        rows, state, lines = self._rows, self._state, self._lines
        groups = {(self.cluster, "log"): rows} if rows else {}
        self.store.write_batches([RowBatch(groups, [], {}, 0, lines)], state=state)
        self.counters["written"] += len(rows)
        self._rows, self._state, self._lines, self._pending_bytes = [], {}, 0, 0
        for f in self._files.values():
            f.dirty = False


def from_config(store: Any, config: Dict[str, Any], name: str = "files") -> FileReceiver:
    """A :class:`FileReceiver` from a receivers-file entry (``{"type": "files", ...}``)."""
    unknown = set(config) - {"type", "paths", "cluster", "hostname", "format", "timezone",
                             "start_at", "process_messages"}
    if unknown:
        log.warning("receiver %s: ignoring unknown key(s) %s", name, ", ".join(sorted(unknown)))
    paths = config.get("paths")
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise ValueError(f"receiver {name}: \"paths\" must be a non-empty list of globs")
    cluster = config.get("cluster")
    if not isinstance(cluster, str) or not cluster:
        raise ValueError(f"receiver {name}: \"cluster\" is required")
    return FileReceiver(store, paths, cluster=cluster, hostname=config.get("hostname") or None,
                        format=config.get("format") or "auto",
                        timezone=config.get("timezone") or None,
                        start_at=config.get("start_at") or "beginning", name=name)


def _iter_paths(paths: Iterable[str]) -> List[str]:
    return [os.path.abspath(p) for p in paths]
