"""The ``files`` receiver: follow log files, parse them, store ClusterCockpit log messages.

A file is known by its identity and a fingerprint of its first bytes, not by its name, so
rotation (rename-and-create or copy-truncate) neither loses nor repeats lines; its position
is saved with the rows it leads to, in one transaction, so a restart resumes where the
last commit ended.  How: ``docs/design/ingest.md``.

    store = ccstore.open("events.db")
    rec = FileReceiver(store, ["/var/log/*.log"], cluster="alex")
    rec.poll_once()              # read what is there; returns counts
    rec.run(stop_event, 1.0)     # or poll every second until the event is set
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
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..logs import FORMATS, LogParser, log_batch

__all__ = ["FileReceiver", "STATE_PREFIX", "FINGERPRINT_BYTES"]

log = logging.getLogger("ccstore.receivers.files")

#: state keys are this prefix plus the file path
STATE_PREFIX = "files:"
#: how many leading bytes identify a file's content
FINGERPRINT_BYTES = 1024
#: suffix of the key that keeps a rotated file's position while it is read to its end
ROTATED_SUFFIX = "#rotated"
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

    __slots__ = ("path", "key", "fd", "ident", "pos", "size", "parser", "fp", "fplen",
                 "rotated")

    def __init__(self, path: str, key: str, fd: int, ident: Identity,
                 parser: LogParser) -> None:
        self.path = path
        #: where its position is saved
        self.key = key
        self.fd = fd
        self.ident = ident
        self.pos = parser.offset
        self.size = -1
        self.parser = parser
        self.fp = ""
        self.fplen = 0
        #: no longer matched by a glob (renamed away or deleted): read to its end
        self.rotated = False

    def update_fingerprint(self) -> None:
        if self.fplen < FINGERPRINT_BYTES:
            self.fp, self.fplen = _fingerprint(self.fd, FINGERPRINT_BYTES)

    def state(self) -> str:
        p = self.parser
        return json.dumps({"dev": self.ident[0], "ino": self.ident[1], "offset": p.safe_offset,
                           "fp": self.fp, "fplen": self.fplen, "t": p.last_time},
                          separators=(",", ":"))


def _rotation_name(path: str, original: str) -> bool:
    """Whether ``path`` may be a rotated copy of ``original``: beside it, its name
    extended (``app.log.1``, ``app.log-20241122``) or the same."""
    directory, base = os.path.split(path)
    odir, obase = os.path.split(original)
    return directory == odir and base.startswith(obase)


def _same_content(fd: int, size: int, saved: Dict[str, Any]) -> bool:
    """Whether an open file starts as the saved one did and reaches its offset."""
    fplen = saved["fplen"]
    return (saved["offset"] <= size
            and _fingerprint(fd, fplen) == (saved.get("fp"), fplen))


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
                 batch_bytes: int = 8 << 20, pattern: Optional[str] = None,
                 regex: Optional[str] = None, levels: Optional[Mapping[str, str]] = None,
                 time_format: Optional[str] = None) -> None:
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
        #: a format of the user's (``pattern`` or ``regex``, see :mod:`ccstore.logs.patterns`)
        self.user_format: Dict[str, Any] = {}
        if pattern is not None or regex is not None:
            self.user_format = {"pattern": pattern, "regex": regex, "levels": levels,
                                "time_format": time_format}
            try:
                LogParser(format, **self.user_format)
            except ValueError as exc:
                raise ValueError(f"files receiver: {exc}") from None
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
        #: what truncated files held: (fingerprint, length, offset, last time)
        self._ghosts: List[Tuple[str, int, int, Optional[int], str]] = []
        #: after a restart, saved positions of the matched paths by identity
        self._restart: Optional[Dict[Identity, Dict[str, Any]]] = None
        self._matched: set = set()
        #: the first poll: ``start_at`` applies
        self._starting = True
        self._lock = threading.Lock()
        self._rows: List[tuple] = []
        self._lines = 0
        self._state: Dict[str, str] = {}
        self._pending_bytes = 0
        self._warned: set = set()
        self.counters: Dict[str, int] = {
            "polls": 0, "opened": 0, "rotations": 0, "truncations": 0, "lines": 0,
            "written": 0, "skipped": 0, "bytes": 0, "unparsed": 0, "no_host": 0}

    # ------------------------------------------------------------------ public
    def poll_once(self) -> Dict[str, int]:
        """Read everything new in every matched file and store it.

        Returns this poll's counts: ``lines`` read, ``written`` rows,
        ``skipped`` lines of binary garbage, entries that fit no format (``unparsed``,
        tagged ``parse=unparsed``) and that named no host of their own (``no_host``),
        ``bytes`` read, files ``opened``,
        ``rotations`` and ``truncations`` seen, and ``files`` followed now.
        """
        with self._lock:
            before = dict(self.counters)
            found = self._scan()
            self._matched = set(found.values())
            if self._restart is None:
                self._restart = self._recover(found)
            for ident, f in list(self._files.items()):
                path = found.get(ident)
                if path is None:
                    if not f.rotated:
                        self._rotated(f)
                elif path != f.path:  # renamed within the globs
                    f.path, f.key = path, STATE_PREFIX + path
                self._follow(f)
            for ident, path in found.items():
                if ident not in self._files:
                    self._open(path, ident)
            self._ghosts.clear()
            self._commit()
            self._starting = False
            self.counters["polls"] += 1
            out = {k: self.counters[k] - before[k] for k in self.counters if k != "polls"}
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
            return {"type": "files", "paths": list(self.paths), "counters": dict(self.counters),
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

    def _saved(self, key: str) -> Optional[Dict[str, Any]]:
        raw = self.store.get_state(key)
        if not raw:
            return None
        try:
            s = json.loads(raw)
            s["ident"] = (int(s["dev"]), int(s["ino"]))
            s["offset"] = int(s["offset"])
            s["fplen"] = int(s.get("fplen") or 0)
            return s
        except (ValueError, KeyError, TypeError):
            log.warning("%s: ignoring an unreadable saved position %s", self.name, key)
            return None

    def _recover(self, found: Dict[Identity, str]) -> Dict[Identity, Dict[str, Any]]:
        """First poll: the saved positions of the matched paths, by identity.

        A saved file that is no longer matched with its content (rotated away
        or copied and truncated while nobody was reading) is looked for beside
        its path, by identity and fingerprint or by fingerprint alone, and
        read from the saved offset to its end.
        """
        by_ident: Dict[Identity, Dict[str, Any]] = {}
        for path in found.values():
            for key in (STATE_PREFIX + path, STATE_PREFIX + path + ROTATED_SUFFIX):
                saved = self._saved(key)
                if saved is None:
                    continue
                saved["path"], saved["key"] = path, key
                if saved["ident"] in found and self._still_there(found[saved["ident"]], saved):
                    by_ident.setdefault(saved["ident"], saved)
                    continue
                for candidate in self._siblings(path):
                    if self._drain_if_same(candidate, saved):
                        break
        return by_ident

    @staticmethod
    def _still_there(path: str, saved: Dict[str, Any]) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            return _same_content(fd, os.fstat(fd).st_size, saved)
        finally:
            os.close(fd)

    def _open(self, path: str, ident: Identity) -> None:
        """Start following a file not followed before; find where to start reading."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            if path not in self._warned:
                self._warned.add(path)
                log.warning("%s: cannot read %s: %s", self.name, path, exc)
            return
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != ident:  # replaced between the scan and the open
            os.close(fd)
            return
        offset, last_time = self._resume_point(path, fd, ident, st.st_size)
        f = _File(path, STATE_PREFIX + path, fd, ident, self._parser(path, offset, last_time))
        f.update_fingerprint()
        self._files[ident] = f
        self.counters["opened"] += 1
        self._state[f.key] = f.state()
        self._follow(f)

    def _parser(self, path: str, offset: int, last_time: Optional[int]) -> LogParser:
        return LogParser(self.format, hostname=self.hostname, location=path,
                         tz=self.timezone, offset=offset, last_time=last_time,
                         **self.user_format)

    def _resume_point(self, path: str, fd: int, ident: Identity,
                      size: int) -> Tuple[int, Optional[int]]:
        """Offset to start a newly found file at, and the last entry time known there.

        In order: the position saved for this file (same identity and
        fingerprint, under its path or, after a restart, under the path it
        had); the position of a followed, truncated or saved file whose first
        bytes this one repeats and whose name this one's extends (a copy made
        by a rotation, ``app.log`` -> ``app.log.1``: start where the original
        was read to); else the start (or the end, with ``start_at="end"``).
        """
        saved = self._saved(STATE_PREFIX + path)
        for s in (saved, (self._restart or {}).get(ident)):
            if s is not None and s["ident"] == ident and _same_content(fd, size, s):
                return s["offset"], s.get("t")
        copies = list(self._ghosts)
        copies += [(f.fp, f.fplen, f.parser.safe_offset, f.parser.last_time, f.path)
                   for f in self._files.values() if not f.rotated]
        if saved is not None:
            copies.append((saved.get("fp"), saved["fplen"], saved["offset"], saved.get("t"),
                           path))
        for fp, fplen, offset, last_time, original in copies:
            if fplen >= _MIN_COPY_FINGERPRINT and offset <= size \
                    and _rotation_name(path, original) \
                    and _fingerprint(fd, fplen) == (fp, fplen):
                log.info("%s: %s is a copy of a file read up to byte %d; starting there",
                         self.name, path, offset)
                return offset, last_time
        return (size if self.start_at == "end" and self._starting else 0), None

    def _siblings(self, path: str) -> List[str]:
        """Unmatched files beside ``path`` whose names extend its name (``app.log.1``...)."""
        directory, base = os.path.split(path)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return []
        out = []
        for n in names:
            p = os.path.join(directory, n)
            if n != base and _rotation_name(p, path) and p not in self._matched \
                    and os.path.isfile(p):
                out.append(p)
        return out

    def _drain_if_same(self, path: str, saved: Dict[str, Any]) -> bool:
        """Read ``path`` from the saved offset to its end if it holds the saved content."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino)
            if ident != saved["ident"] and saved["fplen"] < _MIN_COPY_FINGERPRINT:
                return False
            if not _same_content(fd, st.st_size, saved):
                return False
            log.info("%s: reading the rest of %s (formerly %s) from byte %d", self.name,
                     path, saved["path"], saved["offset"])
            f = _File(path, saved["key"], fd, ident,
                      self._parser(saved["path"], saved["offset"], saved.get("t")))
            f.rotated = True
            self._read(f)
            self._take(f, f.parser.finish())
            if saved["key"].endswith(ROTATED_SUFFIX):
                self._state[saved["key"]] = ""  # done
            self._commit()
            return True
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ reading
    def _rotated(self, f: _File) -> None:
        """``f`` is no longer at a matched path: keep reading it to its end.

        Its position moves to the key ``files:<path>#rotated`` so that the new
        file at the path has the path's key to itself.
        """
        f.rotated = True
        f.key = STATE_PREFIX + f.path + ROTATED_SUFFIX
        self.counters["rotations"] += 1
        log.info("%s: %s was rotated or removed; reading it to its end", self.name, f.path)

    def _follow(self, f: _File) -> None:
        """One poll of a followed file: truncation check, new data, idle flush."""
        try:
            st = os.fstat(f.fd)
        except OSError:
            return
        size = st.st_size
        if size != f.size:
            if size < f.pos or (f.fplen and _fingerprint(f.fd, f.fplen) != (f.fp, f.fplen)):
                self._truncated(f)
            f.size = size
        f.parser.set_reference_time(st.st_mtime)
        if self._read(f) == 0:
            # idle: a pending multi-line entry is complete; a rotated file is done
            if f.rotated:
                self._take(f, f.parser.finish())
                self._state[f.key] = ""
                os.close(f.fd)
                del self._files[f.ident]
                return
            if f.parser.pending:
                self._take(f, f.parser.flush())
        f.update_fingerprint()

    def _truncated(self, f: _File) -> None:
        """Copy-truncate: remember what was read of the old content, start again at 0."""
        self.counters["truncations"] += 1
        self._take(f, f.parser.flush())
        p = f.parser
        log.info("%s: %s was truncated (read up to byte %d); reading from the start",
                 self.name, f.path, p.offset)
        if f.fplen:
            self._ghosts.append((f.fp, f.fplen, p.offset, p.last_time, f.path))
            saved = {"ident": (-1, -1), "offset": p.offset, "fp": f.fp, "fplen": f.fplen,
                     "t": p.last_time, "path": f.path, "key": f.key + ROTATED_SUFFIX}
            for candidate in self._siblings(f.path):
                if self._drain_if_same(candidate, saved):
                    break
        f.parser = self._parser(f.path, 0, p.last_time)
        f.pos = 0
        f.fp, f.fplen = "", 0
        f.update_fingerprint()
        self._state[f.key] = f.state()

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
            self._pending_bytes += len(data)
            self.counters["bytes"] += len(data)
            self._take(f, f.parser.feed(data))
            if self._pending_bytes >= self.batch_bytes:
                self._commit()
        return total

    def _take(self, f: _File, rows: List[tuple]) -> None:
        """Queue rows of ``f`` and its new position for the next commit."""
        p = f.parser
        self._lines += p.lines
        self.counters["lines"] += p.lines
        self.counters["skipped"] += p.skipped
        self.counters["unparsed"] += p.unparsed
        self.counters["no_host"] += p.no_host
        p.lines = p.skipped = p.unparsed = p.no_host = 0
        if rows:
            self._rows.extend(rows)
        self._state[f.key] = f.state()

    def _commit(self) -> None:
        """One transaction: the queued rows and the positions they lead to."""
        if not self._rows and not self._state:
            return
        rows, state, lines = self._rows, self._state, self._lines
        self.store.write_batches([log_batch(self.cluster, rows, lines)], state=state)
        self.counters["written"] += len(rows)
        self._rows, self._state, self._lines, self._pending_bytes = [], {}, 0, 0
