"""``grade batch --scheduler ADDRESS``: the batch on a dask.distributed cluster.

Every dask worker gets :class:`SandboxPlugin`: it writes the exercise (sent as bytes) into a
private folder, runs ``grade doctor``'s probe, and, when its layers are enough, starts one
sandbox worker that it keeps warm for the whole batch. Each submission travels as bytes (the
file and the helper modules it imports), is written into a fresh folder on the worker, graded
there by the same ``batch_worker.grade_one`` as a local run, and comes back as its results object with
the worker's paths turned back into the client's: results, gradebook and summary are those of a
local ``--jobs`` run, byte for byte.

Only workers that accepted run the batch's tasks (the client restricts them to those as soon as
one worker refuses), so a worker whose sandbox lacks a layer the client requires never grades.
A worker that dies mid-batch loses nothing: the scheduler runs its tasks again elsewhere.
``local:N`` starts a ``LocalCluster`` of N processes. dask is an extra
(``pip install "backprop-grader[dask]"``); nothing else in the grader imports it.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SandboxUnavailable, UsageError

PLUGIN = "grader-sandbox"
WINDOW = 4  # tasks in flight per worker thread: enough to keep workers busy, memory bounded

try:  # the plugin must subclass dask's own class; without dask only the error message is needed
    from distributed import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - exercised by installs without the extra
    _PluginBase = object


def _dask():
    try:
        import distributed
    except ImportError:
        raise UsageError('--scheduler needs dask.distributed: pip install "backprop-grader[dask]"') from None
    return distributed


def layers_of(rows: Sequence[tuple[str, bool, str]]) -> list[str]:
    """The names of the layers ``grade doctor`` found active."""
    return [name for name, active, _ in rows if active]


def required_layers(isolation: str) -> list[str]:
    """What the client requires of every worker: with ``--isolation strict``, every layer that
    ``grade doctor`` finds here (the cluster never grades less safely than this machine would);
    otherwise nothing beyond a sandbox that starts."""
    if isolation != "strict":
        return []
    from . import sandbox

    return layers_of(sandbox.doctor(isolation))


def refusal(have: Sequence[str], required: Sequence[str], version: str, client_version: str) -> str | None:
    """Why a worker must not grade for this client, or None: a grader of another version (its
    results would differ) or fewer sandbox layers than the client requires."""
    if version != client_version:
        return f"grader {version} on the worker, {client_version} on the client"
    missing = [name for name in required if name not in have]
    if missing:
        return "lacks sandbox layers the client requires: " + ", ".join(missing)
    return None


class SandboxPlugin(_PluginBase):
    """One warm sandbox worker per dask worker, and the exercise, for one batch."""

    name = PLUGIN

    def __init__(self, batch: str, isolation: str, spec_name: str, spec_bytes: bytes,
                 secret: str | None, required: Sequence[str], client_version: str):
        self.batch, self.isolation = batch, isolation  # batch: a name for this batch
        self.spec_name, self.spec_bytes, self.secret = spec_name, spec_bytes, secret
        self.required, self.client_version = tuple(required), client_version
        self.folder: str | None = None
        self.spec_path: str | None = None
        self.layers: list[str] = []
        self.refused: str | None = None
        self.ready = False  # set up (accepted or refused); a worker still setting up is waited for
        self.box: Any = None
        self._jobs = itertools.count()
        self._old_secret: str | None = None

    def __getstate__(self) -> dict:  # what travels to the workers: the configuration only
        return {k: v for k, v in self.__dict__.items() if k in (
            "batch", "isolation", "spec_name", "spec_bytes", "secret", "required", "client_version")}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    # -- on the worker
    def prepare(self) -> None:
        """Blocking set-up (run in a thread by ``setup``): the exercise file, the doctor's
        layers, the warm sandbox; or the reason to refuse."""
        from . import batch_worker, sandbox
        from ._about import __version__
        from .variants import SECRET_ENV

        self.folder = tempfile.mkdtemp(prefix="grader-dask-")
        self.spec_path = os.path.join(self.folder, self.spec_name)
        with open(self.spec_path, "wb") as fh:
            fh.write(self.spec_bytes)
        self._old_secret = os.environ.get(SECRET_ENV)
        if self.secret:  # per-student variants are drawn from it, as on the client
            os.environ[SECRET_ENV] = self.secret
        else:
            os.environ.pop(SECRET_ENV, None)
        self.layers = layers_of(sandbox.doctor(self.isolation))
        self.refused = refusal(self.layers, self.required, __version__, self.client_version)
        if self.refused is None:
            try:
                box = sandbox.Sandbox(self.isolation)
                box.start()
            except Exception as exc:  # a sandbox that cannot start here: this worker refuses
                self.refused = f"the sandbox cannot start: {exc}"
            else:
                self.box = batch_worker._BOX = box  # grade_one grades with the process's warm sandbox
        self.ready = True

    async def setup(self, worker) -> None:
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.prepare)

    def teardown(self, worker=None) -> None:
        from . import batch_worker
        from .variants import SECRET_ENV

        if self.box is not None:
            if batch_worker._BOX is self.box:
                batch_worker._BOX = None
            self.box.close()
            self.box = None
        if self._old_secret is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = self._old_secret
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def state(self) -> dict[str, Any]:
        return {"layers": list(self.layers), "refused": self.refused, "ready": self.ready}

    def grade(self, student: str, names: Sequence[str | None], files: Sequence[tuple[str, bytes]],
              variant_of: str | None, back: dict[str, Any], key: Any = None) -> dict[str, Any]:
        """Grade one submission sent as ``files``: ``names`` are its code and answers files (either
        may be None); paths in the result are the client's (``back``: the client's path of each
        file and of their folder, and the files ignored with their reasons; ``key``: the
        variant's answer key, solved on the client with the class's, or None)."""
        from . import batch_worker

        if self.refused is not None or self.folder is None:
            raise SandboxUnavailable(f"this worker does not grade: {self.refused or 'not set up'}")
        folder = Path(self.folder, str(next(self._jobs)), student)
        folder.mkdir(parents=True)
        try:
            for fname, data in files:
                (folder / fname).write_bytes(data)
            code, answers = (str(folder / n) if n else None for n in names)
            data = batch_worker.grade_one(code, answers, self.spec_path, self.isolation, variant_of,
                                   tuple(tuple(i) for i in back.get("ignored", ())), key=key)
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
        pairs = [(p, back[k]) for p, k in ((code, "file"), (answers, "answers")) if p is not None]
        return repath(data, [*pairs, (str(folder), back["folder"]), (self.spec_path, back["spec"])])


def grade_task(student: str, names: Sequence[str | None], files: Sequence[tuple[str, bytes]],
               variant_of: str | None, back: dict[str, Any], key: Any = None) -> dict[str, Any]:
    """The task a dask worker runs: one submission, on this worker's warm sandbox."""
    from distributed import get_worker

    plugin = get_worker().plugins.get(PLUGIN)
    if plugin is None:
        raise SandboxUnavailable("this worker has no grader sandbox")
    return plugin.grade(student, names, files, variant_of, back, key)


def _worker_state(dask_worker) -> dict[str, Any]:
    plugin = dask_worker.plugins.get(PLUGIN)
    return plugin.state() if plugin is not None else {"layers": [], "refused": "no grader sandbox", "ready": False}


def repath(data: dict[str, Any], pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``data`` with each path string replaced (as it appears inside JSON strings), in order."""
    text = json.dumps(data)
    for old, new in pairs:
        text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    return json.loads(text)


# ---------------------------------------------------------------------------- on the client
def submission_files(path: Path, alone: bool) -> list[tuple[str, bytes]] | None:
    """What a submission needs on a worker: its own file (first), and, in a folder of its own,
    the modules beside it that it imports. None when a file cannot be taken from here as it is
    (unreadable, too large, a link, a helper refused): the client grades that one itself, so
    that its message is the local one."""
    from . import safefs
    from .submission import MAX_BYTES

    try:
        data = safefs.read_bytes(path, limit=None if path.suffix == ".json" else MAX_BYTES)
    except (safefs.Refused, OSError):
        return None
    files = [(path.name, data)]
    if not alone and path.suffix in (".py", ".ipynb"):
        from .errors import GraderError
        from .sandbox._files import helper_files
        from .submission import load_source

        try:
            helpers, refused = helper_files(load_source(path))
        except GraderError:  # it does not compile: it is not run, nothing is imported
            helpers, refused = [], []
        if refused:
            return None
        files += [(n, d) for n, d in helpers if n != path.name]
    return files


def _files_of(s: Any) -> list[tuple[str, bytes]] | None:
    """The files of a student's submission (:class:`grader.discover.Submission`) to send, or None
    when there is nothing to send or something cannot be taken from here as it is."""
    if s.path is None:
        return None
    files = []
    for path in (s.code, s.answers):
        if path is not None:
            part = submission_files(path, not s.own_folder)
            if part is None:
                return None
            files += [f for f in part if f[0] not in {n for n, _ in files}]
    return files


@dataclass(frozen=True)
class WorkerRecord:
    address: str
    layers: tuple[str, ...]
    refused: str | None


def workers_text(records: Sequence[WorkerRecord]) -> str:
    """A line per dask worker: the sandbox layers its ``grade doctor`` found, or why it refused."""
    lines = [f"Workers: {len(records)} ({sum(r.refused is None for r in records)} grading)"]
    for r in records:
        what = f"REFUSED: {r.refused}" if r.refused else f"{len(r.layers)} layers"
        lines.append(f"  {r.address}  {what}" + (f": {', '.join(r.layers)}" if r.layers else ""))
    return "\n".join(lines) + "\n"


class Cluster:
    """A batch's connection to a dask cluster: ``tcp://HOST:PORT`` (any address dask accepts) or
    ``local:N`` for a LocalCluster of N worker processes started here."""

    def __init__(self, address: str, exercise_path: Path, isolation: str, required: Sequence[str] = ()):
        self.address = address
        distributed = _dask()
        self._local = None
        n = 1
        if address.startswith("local:"):
            try:
                n = int(address[len("local:"):])
            except ValueError:
                n = 0
            if not 1 <= n <= 256:
                raise UsageError(f"--scheduler {address}: local:N needs a number of workers from 1 to 256")
            self._local = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=40)
            target: Any = self._local
        else:
            target = address
        try:
            self.client = distributed.Client(target, timeout="30s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self._close_local()
            raise UsageError(f"--scheduler {address}: cannot connect: {exc}") from None
        from ._about import __version__
        from .variants import SECRET_ENV

        self.batch = f"grader-{uuid.uuid4().hex[:12]}"  # names this batch's tasks
        self.records: dict[str, WorkerRecord] = {}
        try:
            self.client.wait_for_workers(n if self._local is not None else 1, timeout=60)
            plugin = SandboxPlugin(self.batch, isolation, exercise_path.name, exercise_path.read_bytes(),
                                   os.environ.get(SECRET_ENV) or None, required, __version__)
            self.client.register_plugin(plugin, name=PLUGIN)
            self._record()
        except BaseException as exc:
            self.close()
            if isinstance(exc, TimeoutError):
                raise UsageError(f"--scheduler {address}: no worker joined within 60 s") from None
            raise
        if not any(r.refused is None for r in self.records.values()):
            text = workers_text(list(self.records.values()))
            self.close()
            raise SandboxUnavailable(f"--scheduler {address}: no worker can grade safely:\n{text.rstrip()}")

    def _record(self, wait: float = 120.0) -> None:
        """Each worker's layers, once its plugin is set up (a worker that joined late may still
        be running its doctor)."""
        import time

        deadline = time.monotonic() + wait
        while True:
            states = self.client.run(_worker_state)
            if all(st["ready"] for st in states.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for address, st in sorted(states.items()):
            refused = st["refused"] if st["ready"] else st["refused"] or "still setting up its sandbox"
            self.records[address] = WorkerRecord(address, tuple(st["layers"]), refused)

    def grade(self, todo: Sequence[Any], student_of: Callable[[Any], str | None],
              spec_name: str, key_of: Callable[[str | None], Any] = lambda student: None
              ) -> Iterator[tuple[Any, dict[str, Any] | str | None]]:
        """(submission, results data) as each is graded; the data is None for a submission that
        cannot be read here (the caller grades it, and its failure, locally), a message for one
        that took down the workers it ran on."""
        distributed = _dask()
        window = WINDOW * max(1, sum(self.client.nthreads().values()))
        pending = iter(enumerate(todo))
        running = distributed.as_completed(loop=self.client.loop)
        owner: dict[Any, Any] = {}

        sent: dict[Any, tuple[int, Any, int]] = {}  # future -> (number, task arguments, tries)

        def submit(k: int, task: Any, tries: int) -> None:
            # only workers that accepted run a task: unrestricted (so that dask may use a worker
            # that replaces a lost one) unless some worker refused, or this task met one
            accepted = [a for a, r in self.records.items() if r.refused is None]
            where = {} if tries == 0 and len(accepted) == len(self.records) else \
                {"workers": accepted, "allow_other_workers": False}
            fut = self.client.submit(grade_task, *task, key=f"{self.batch}-{k}-{tries}", pure=False, **where)
            sent[fut] = (k, task, tries)
            running.add(fut)

        def fill() -> list[Any]:
            """Submit until the window is full; the submissions that cannot be read here."""
            unread = []
            for k, s in pending:
                files = _files_of(s)
                if files is None:
                    unread.append(s)
                    continue
                back = {"file": str(s.code), "answers": str(s.answers), "folder": str(s.path.parent),
                        "spec": spec_name, "ignored": [(i.name, i.reason) for i in s.ignored]}
                names = (s.code.name if s.code else None, s.answers.name if s.answers else None)
                owner[k] = s
                submit(k, (s.student, names, files, student_of(s), back, key_of(student_of(s))), 0)
                if len(owner) >= window:
                    break
            return unread

        yield from ((s, None) for s in fill())
        while owner:
            fut = next(running)
            k, task, tries = sent.pop(fut)
            try:
                data: dict[str, Any] | str | None = fut.result()
            except SandboxUnavailable:  # it reached a worker that joined later and refuses
                fut.release()
                self._record(wait=10)
                submit(k, task, tries + 1)
                continue
            except Exception as exc:  # KilledWorker: the submission took down worker after worker
                from .batch_worker import WORKER_DIED

                data = f"{WORKER_DIED}: {type(exc).__name__}"
            fut.release()
            yield owner.pop(k), data
            yield from ((s, None) for s in fill())
        self._record()

    def workers_text(self) -> str:
        return workers_text(list(self.records.values()))

    def _close_local(self) -> None:
        if self._local is not None:
            self._local.close()
            self._local = None

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            try:
                client.unregister_worker_plugin(PLUGIN)
            except Exception:  # workers already gone: nothing to tear down
                pass
            client.close()
            self.client = None
        self._close_local()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
