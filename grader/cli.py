"""The ``grade`` command: a thin Click layer. Each command parses, calls one library function, prints.

Library errors (:class:`~grader.errors.GraderError`) become ``Error: …`` and an exit status in
:func:`main`, the one place that does so.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import click

from . import interrupts, prespawn, report
from ._about import DEFAULT_EXERCISE, __version__
from .errors import GraderError

EXIT_OK, EXIT_BELOW, EXIT_USAGE, EXIT_UNSAFE, EXIT_INTERRUPTED = 0, 1, 2, 3, interrupts.EXIT_INTERRUPTED


class DefaultGroup(click.Group):
    """``grade FILE …`` means ``grade check FILE …``: a file is the main job."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):  # the one place library errors become messages
        try:
            return super().invoke(ctx)
        except GraderError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except OSError as exc:  # a file the user named cannot be read or written
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"Error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug of ours: one line, not a traceback (GRADER_DEBUG=1 shows it)
            if os.environ.get("GRADER_DEBUG"):
                raise
            click.echo(f"Error: internal error, please report it: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(EXIT_USAGE)


def _emit(text: str, output: str | None) -> None:
    if output:
        report.write_atomic(output, text)
    else:
        click.echo(text, nl=False)


def _late_options(f):
    """--deadline, --late-penalty, --grace, --late-cap (and GRADER_* variables), shared by
    ``check``, ``batch`` and ``bundle``."""
    for opt in reversed([
        click.option("--deadline", envvar="GRADER_DEADLINE", metavar="ISO8601",
                     help="Due time with its zone, e.g. 2026-03-01T23:59:00+01:00 (late penalties)."),
        click.option("--late-penalty", type=click.FloatRange(0, 100), envvar="GRADER_LATE_PENALTY",
                     metavar="PCT_PER_DAY", help="Percent of the score lost per day (or part of one) late."),
        click.option("--grace", envvar="GRADER_GRACE", metavar="DURATION", help="Not late within this, e.g. 15m."),
        click.option("--late-cap", envvar="GRADER_LATE_CAP", metavar="DURATION",
                     help="Later than this after the deadline scores 0, e.g. 7d."),
        click.option("--overrides", envvar="GRADER_OVERRIDES", type=click.Path(dir_okay=False),
                     help="CSV student,question,points,reason (question * = the whole score)."),
    ]):
        f = opt(f)
    return f


def _add_exercise_dirs(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    if not value:  # eager: without this, every command would import the spec machinery (and NumPy) first
        return
    from . import spec

    spec.add_dirs(value)


exercises_dir_option = click.option(
    "--exercises-dir", multiple=True, type=click.Path(file_okay=False), expose_value=False, is_eager=True,
    callback=_add_exercise_dirs,
    help="Look exercise ids up in DIR first (repeatable), then in GRADER_EXERCISES (colon-separated), then bundled.")


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grade")
def cli() -> None:
    """Grade backpropagation exercises: answer keys, answers files and student code.

    \b
    Examples:
      grade answers.json --exercise tutorial-4      grade an answers file
      grade key tutorial-4                          print the answer key
      grade validate exercises/*.json               check exercise specs
    """


@cli.command("check")
@exercises_dir_option
@click.argument("file", type=click.Path())
@click.option("-e", "--exercise", envvar="GRADER_EXERCISE",
              help="Exercise id or spec path (default: the id named by the file, else tutorial-4).")
@click.option("-f", "--format", "fmt", type=click.Choice(report.FORMATS), default="text",
              envvar="GRADER_FORMAT", show_default=True,
              help="text for people; json, gradescope (results.json), junit, markdown, github (Actions), "
                   "classroom (GitHub Classroom's reporter).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (atomically) instead of stdout.")
@click.option("--show-expected", is_flag=True, help="Show expected values (instructors only).")
@click.option("--fail-under", type=click.FloatRange(0, 100), envvar="GRADER_FAIL_UNDER",
              help="Exit 1 when the score is below this percentage.")
@click.option("--isolation", type=click.Choice(["best-effort", "strict"]), default="best-effort",
              envvar="GRADER_ISOLATION", show_default=True,
              help="strict: refuse to run code (exit 3) where the sandbox cannot isolate the network or filter syscalls.")
@click.option("--student", envvar="GRADER_STUDENT",
              help="Grade this student's variant (exercises with variants; needs GRADER_SECRET).")
@_late_options
@click.option("--submitted-at", envvar="GRADER_SUBMITTED_AT", metavar="ISO8601", help="When it was handed in.")
@click.option("--metadata", envvar="GRADER_METADATA", type=click.Path(dir_okay=False),
              help="Gradescope's submission_metadata.json: the submitter (for overrides) and created_at.")
def check(file: str, exercise: str | None, fmt: str, output: str | None, show_expected: bool,
          fail_under: float | None, isolation: str, student: str | None, deadline: str | None,
          late_penalty: float | None, grace: str | None, late_cap: str | None, overrides: str | None,
          submitted_at: str | None, metadata: str | None) -> None:
    """Grade FILE: a student's submission.py or notebook (.ipynb), or an answers JSON file.

    FILE may be a folder holding one submission (submission.py first), as on Gradescope.

    \b
    Examples:
      grade submission.py                       (the exercise id in EXERCISE = "...", else tutorial-4)
      grade submission.py -e hw3 --exercises-dir course/exercises
      grade homework.ipynb --exercise tutorial-4 --format json
      grade answers.json -e tutorial-4 --fail-under 50
      grade answers.json --deadline 2026-03-01T23:59Z --late-penalty 10 --submitted-at 2026-03-02T08:00Z
    """
    started = time.perf_counter()
    _single_threaded_blas()
    box = None
    if file.endswith((".py", ".ipynb")):  # the sandbox worker starts first and loads while the grader does
        from .sandbox import Sandbox

        box = Sandbox(isolation, single=True)
        box.launch()
    # the late-penalty and overrides machinery is imported only when one of its options is given
    adjust = overrides or any(v is not None for v in (deadline, late_penalty, grace, late_cap))
    try:
        from . import grading

        if adjust:
            from .lms import course

            policy = course.options(deadline=deadline, late_penalty=late_penalty, grace=grace, late_cap=late_cap).policy
        results = grading.grade_path(file, exercise, reveal=show_expected, isolation=isolation, student=student,
                                     box=box)
        if adjust:
            from .lms import single

            results = single.adjusted(results, grading.submission_file(file), student, metadata, submitted_at,
                                      policy, overrides)
        text = report.render(results, fmt, show_expected, execution_time=time.perf_counter() - started)
        _emit(text, output)
    finally:
        if box is not None:  # after the report: the worker's exit is not on its path
            box.close()
    if fmt == "classroom":  # the runner result GitHub Classroom's reporter reads
        from .lms import classroom

        line = classroom.publish(results)
        if line:
            click.echo(line, nl=False)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt in ("github", "classroom") and summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(report.results_markdown(results, show_expected))
    if fail_under is not None and results.percent < fail_under:
        click.get_current_context().exit(EXIT_BELOW)


def _single_threaded_blas() -> None:
    """One submission's arrays are tiny: a BLAS thread pool, started as NumPy is imported, costs
    ``grade FILE`` more CPU than it gives (its thread spins on the core the sandbox worker starts
    on). Unless the user chose, NumPy in this process gets one thread (set before it is imported;
    the sandbox worker has its own environment)."""
    if "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")


@cli.command("key")
@exercises_dir_option
@click.argument("exercise")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json", "markdown", "html"]), default="text",
              show_default=True, help="markdown and html write the worked solution in the sheet's chain-rule style.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the key here instead of stdout.")
@click.option("--student", envvar="GRADER_STUDENT", help="The key of this student's variant (needs GRADER_SECRET).")
@click.option("--formulas", is_flag=True,
              help="With --format json: each derivative question's answer is its chain-rule formula.")
def key(exercise: str, fmt: str, output: str | None, student: str | None, formulas: bool) -> None:
    """Print the answer key of EXERCISE (a bundled id or a spec path).

    \b
    Example:
      grade key tutorial-4
      grade key exercises/tutorial-4-matrix.json --format json > key.json
      grade key tutorial-4-output-layer --format html -o solution.html
      grade key tutorial-4-output-layer --format json --formulas   # "w6": "(y1 - t1) * y1 * (1 - y1) * o2"
    """
    if formulas and fmt != "json":
        raise click.UsageError("--formulas needs --format json")
    if fmt in ("markdown", "html"):
        from . import spec, worked

        ex = spec.load_exercise(exercise, student)
        if fmt == "markdown" and output:  # training curves go beside the file, as SVGs it references
            for path, text in worked.markdown_files(ex, output).items():
                report.write_atomic(str(path), text)
            return
        _emit(worked.markdown(ex) if fmt == "markdown" else worked.html(ex), output)
        return
    from . import grading

    k = grading.answer_key(exercise, student)
    if formulas:
        from . import chain

        k = dataclasses.replace(k, answers=chain.with_formulas(k.exercise, k.answers))
    text = report.key_json(k.exercise, k.answers) if fmt == "json" else report.key_text(k.exercise, k.answers)
    _emit(text, output)


@cli.command("validate")
@exercises_dir_option
@click.argument("exercises", nargs=-1, required=True)
def validate(exercises: tuple[str, ...]) -> None:
    """Check exercise specs and report every problem; exit 0 when all are valid.

    \b
    Example:
      grade validate exercises/*.json
    """
    bad = 0
    from . import grading

    for name, errors in grading.validate(list(exercises)):
        if errors:
            bad += 1
            for e in errors:
                click.echo(f"Error: {e}", err=True)
        else:
            click.echo(f"ok: {name}")
    if bad:
        click.get_current_context().exit(EXIT_USAGE)


@cli.command("batch")
@exercises_dir_option
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("-e", "--exercise", envvar="GRADER_EXERCISE", default=DEFAULT_EXERCISE, show_default=True,
              help="Exercise id or spec path.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Where results go (default: FOLDER-grades).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), envvar="GRADER_JOBS", help="Worker processes (default: cores).")
@click.option("--resume", is_flag=True, help="Keep results of unchanged submissions from an earlier (interrupted) run.")
@click.option("--isolation", type=click.Choice(["best-effort", "strict"]), default="best-effort",
              envvar="GRADER_ISOLATION", show_default=True)
@click.option("--scheduler", envvar="GRADER_SCHEDULER", metavar="ADDRESS",
              help='Grade on a dask.distributed cluster (tcp://HOST:PORT), or local:N worker processes; '
                   'needs pip install "backprop-grader[dask]".')
@click.option("--roster", envvar="GRADER_ROSTER", type=click.Path(dir_okay=False),
              help="Canvas or Moodle export, Gradescope or GitHub Classroom roster, or CSV student,email,id.")
@click.option("--gradebook", "gradebook", type=click.Choice(["csv", "canvas", "moodle"]), default="csv",
              envvar="GRADER_GRADEBOOK", show_default=True,
              help="Also write gradebook-canvas.csv or gradebook-moodle.csv (needs --roster).")
@click.option("--assignment", envvar="GRADER_ASSIGNMENT", metavar="NAME",
              help='The gradebook column: Canvas "Title (ID)"; default the exercise title.')
@click.option("--match", type=click.Choice(["email", "idnumber", "username"]), default="email",
              envvar="GRADER_MATCH", show_default=True, help="Moodle: the identity column of gradebook-moodle.csv.")
@_late_options
@click.option("--times", envvar="GRADER_TIMES", type=click.Path(dir_okay=False),
              help="CSV student,submitted_at (else Gradescope metadata, git, file times).")
def batch(folder: str, exercise: str, out: str | None, jobs: int | None, resume: bool, isolation: str,
          roster: str | None, gradebook: str, assignment: str | None, match: str, deadline: str | None,
          late_penalty: float | None, grace: str | None, late_cap: str | None, overrides: str | None,
          times: str | None, scheduler: str | None) -> None:
    """Grade every submission in FOLDER: per-student results, a CSV gradebook and a summary.

    A file per student (alice.py, bob.ipynb, carol.json) or a folder per student (alice/submission.py).

    \b
    Example:
      grade batch submissions/ --exercise tutorial-4 --out grades/
      grade batch submissions/ -e tutorial-4 -o grades/ --resume     (after an interruption)
      grade batch moodle-download/ -e tutorial-4 --roster grades-export.csv --gradebook moodle
      grade batch subs/ --roster canvas.csv --gradebook canvas --deadline 2026-03-01T23:59+01:00 --late-penalty 10
      grade batch submissions/ -e tutorial-4 --scheduler tcp://10.0.0.5:8786   (on a dask cluster)
    """
    from . import batch as batch_mod
    from .lms import course

    lms = course.options(roster, gradebook, assignment, match, deadline, late_penalty, grace, late_cap, times,
                         overrides)

    bar = None
    if sys.stderr.isatty():
        bar = click.progressbar(length=1, label="grading", file=sys.stderr, show_pos=True)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.length = total
            bar.update(done - bar.pos)

    def finish() -> None:  # the bar ends on its own line and the cursor is shown again, however we stop
        nonlocal bar
        if bar is not None:
            bar.render_finish()
            bar = None

    try:
        with interrupts.handled(finish):
            summary = batch_mod.run(folder, exercise, out, jobs, resume, isolation, progress, lms,
                                    scheduler=scheduler)
    finally:
        finish()
    click.echo(summary.text, nl=False)
    if summary.workers:
        click.echo("\n" + summary.workers, nl=False)
    more = f", {summary.out}/gradebook-{gradebook}.csv" if gradebook != "csv" else ""
    click.echo(f"\nGraded {summary.graded}, kept {summary.reused} of {summary.total}; "
               f"wrote {summary.out}/gradebook.csv{more}, {summary.out}/summary.txt, {summary.out}/results/")


@cli.command("figure")
@exercises_dir_option
@click.argument("exercise")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the SVG here instead of stdout.")
@click.option("--student", envvar="GRADER_STUDENT", help="The figure of this student's variant (needs GRADER_SECRET).")
def figure(exercise: str, output: str | None, student: str | None) -> None:
    """Draw the network of EXERCISE as an SVG figure: layers, neurons, weights and biases.

    \b
    Example:
      grade figure tutorial-4 -o net.svg
    """
    from . import figure as figure_mod
    from . import spec

    _emit(figure_mod.svg(spec.load_exercise(exercise, student)), output)


@cli.command("sheet")
@exercises_dir_option
@click.argument("exercise")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the sheet here instead of stdout.")
@click.option("--student", envvar="GRADER_STUDENT", help="This student's variant (needs GRADER_SECRET).")
@click.option("--answers-template", is_flag=True, help="Write an empty answers file (every question id, null) instead.")
def sheet(exercise: str, output: str | None, student: str | None, answers_template: bool) -> None:
    """Write the student version of EXERCISE (Markdown): figure, values, questions, no answers.

    \b
    Example:
      grade sheet tutorial-4 -o tutorial-4.md
      grade sheet tutorial-4 --answers-template -o answers.json
      GRADER_SECRET=… grade sheet tutorial-4 --student s1234567 -o s1234567.md
    """
    from . import sheet as sheet_mod
    from . import spec

    ex = spec.load_exercise(exercise, student)
    _emit(sheet_mod.template_json(ex) if answers_template else sheet_mod.markdown(ex), output)


@cli.command("export")
@click.argument("exercise")
@click.option("--to", "to", type=click.Choice(["moodle-xml", "canvas-qti"]), required=True,
              help="moodle-xml: calculated questions; canvas-qti: a QTI 1.2 zip of calculated_question items.")
@click.option("--variants", "n", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Precomputed variants per question (from the spec's variants section).")
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed gives the same variants.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Default: EXERCISE-moodle.xml or EXERCISE-canvas-qti.zip.")
def export(exercise: str, to: str, n: int, seed: int, output: str | None) -> None:
    """Export EXERCISE's questions as an LMS quiz with N precomputed variants of each.

    A vector or matrix question becomes one question per entry.

    \b
    Example:
      grade export tutorial-4-output-layer --to moodle-xml --variants 20 -o quiz.xml
      grade export tutorial-4 --to canvas-qti --variants 10 --seed 7
    """
    from .lms import canvas_qti, moodle_xml, quiz

    q = quiz.build(exercise, n, seed)
    if to == "moodle-xml":
        output = output or f"{q.exercise}-moodle.xml"
        report.write_atomic(output, moodle_xml.write(q))
    else:
        output = output or f"{q.exercise}-canvas-qti.zip"
        data = canvas_qti.package(q)
        tmp = output + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, output)
    entries = sum(1 for i in q.items if "[" in i.id)
    click.echo(f"wrote {output}: {len(q.items)} questions ({entries} of them matrix or vector entries, one "
               f"question each), {len(q.values)} variants each, seed {seed}")


@cli.command("doctor")
def doctor() -> None:
    """Say which isolation layers of the sandbox work on this machine.

    \b
    Example:
      grade doctor
    """
    from . import sandbox

    rows = sandbox.doctor()
    width = max(len(name) for name, _, _ in rows)
    for name, active, detail in rows:
        click.echo(f"{'yes' if active else 'NO ':3}  {name.ljust(width)}  {detail}")


@cli.command("bundle")
@exercises_dir_option
@click.argument("exercise")
@click.option("--gradescope", is_flag=True, required=True, help="Build a Gradescope autograder zip (the one kind so far).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="autograder.zip", show_default=True)
@_late_options
def bundle(exercise: str, gradescope: bool, output: str, deadline: str | None, late_penalty: float | None,
           grace: str | None, late_cap: str | None, overrides: str | None) -> None:
    """Write a Gradescope autograder zip for EXERCISE: setup.sh, run_autograder, the spec, this grader.

    With GRADER_SECRET set and an exercise with variants, each submitter (Gradescope's sid, else
    email) is graded on their own variant; the secret travels in the zip, visible to staff only.
    Late-penalty options and --overrides are applied to every submission (its time is Gradescope's
    created_at; overrides match the submitter's sid or email).

    \b
    Example:
      grade bundle tutorial-4 --gradescope -o autograder.zip
      grade bundle tutorial-4 --gradescope --deadline 2026-03-01T23:59Z --late-penalty 10 --overrides o.csv
    """
    from . import bundle as bundle_mod
    from .lms import course

    args = course.bundle_arguments(exercise, deadline, late_penalty, grace, late_cap, overrides)
    secret = os.environ.get("GRADER_SECRET") or None
    data = bundle_mod.build(exercise, secret, args, overrides)
    report.write_atomic(output, data)
    click.echo(f"wrote {output} ({len(data):,} bytes): upload it as the autograder of a Gradescope assignment")
    if secret:
        click.echo("GRADER_SECRET is in the zip: exercises with variants grade each submitter on their own variant")


def main(argv: list[str] | None = None, exiting: bool = False) -> int:
    """Run the CLI and return its exit status (errors are reported by :class:`DefaultGroup`).
    ``exiting`` (also when ``argv`` is None, as the ``grade`` script calls it): the process exits
    afterwards, so a signal while it shuts down still exits with 130."""
    try:
        with interrupts.handled(lambda: sys.stderr.write("Interrupted.\n"),
                                leaving=exiting or argv is None):  # Ctrl-C, SIGTERM: 130; twice: at once
            code = cli.main(args=argv, prog_name="grade", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    finally:
        prespawn.discard()  # a sandbox worker spawned at start (grade FILE) that the command did not use
    code = code if isinstance(code, int) else EXIT_OK
    if interrupts.received() or exiting or argv is None:  # leave now: a signal during the interpreter's
        sys.stdout.flush()  # own shutdown would kill it (status -2, -15) once Python has put back the
        sys.stderr.flush()  # default handlers
        os._exit(EXIT_INTERRUPTED if interrupts.received() else code)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
