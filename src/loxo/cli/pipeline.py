"""``create / update / validate / inspect / list / delete / stop / start / draw pipeline``
and ``run cron``.

Creating or updating a pipeline runs the jobs it triggers before the command returns
(a progress bar per job on a terminal); ``--no-wait`` only records the new version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

import typer

import loxo
from loxo.cli import app
from loxo.cli.output import NoWait, Raw, ago, print_fields, print_line, print_raw, print_table, warn
from loxo.model.jobs import PipelineInfo

SpecFile = Annotated[
    str, typer.Option("-f", "--file", metavar="SPEC", help="A pipeline spec file (JSON or YAML).")
]
Name = Annotated[str, typer.Argument(metavar="NAME", help="The pipeline's name.")]

ARROW = " ──▶ "
_OPERATORS = {"cross": " ⨯ ", "union": " ∪ ", "join": " ⋈ ", "group": " ⊗ "}


def _warn_specs(client: loxo.ClientBase, spec: str) -> list[str]:
    """Print every spec warning as ``warning: <pipeline>: ...``; the pipeline names."""
    loaded = client.load_specs(spec)
    for item in loaded:
        for text in item.warnings:
            warn(f"warning: {item.spec.name}: {text}")
    images = sorted({i.spec.transform.image for i in loaded if i.spec.transform.image})
    if images:  # once per command, not once per pipeline or datum
        warn(f"note: image {', '.join(images)} recorded; with no container engine here, "
             "commands run on this host")
    return [item.spec.name for item in loaded]


@app.create.command("pipeline")
def create_pipeline(ctx: typer.Context, spec: SpecFile, no_wait: NoWait = False) -> None:
    """Create the pipelines of a spec file and run the jobs they trigger."""
    client = app.client(ctx, wait=not no_wait)
    _warn_specs(client, spec)
    client.create_pipeline(spec)


@app.update.command("pipeline")
def update_pipeline(
    ctx: typer.Context,
    spec: SpecFile,
    reprocess: Annotated[
        bool, typer.Option("--reprocess", help="Process every datum again, even unchanged ones.")
    ] = False,
    no_wait: NoWait = False,
) -> None:
    """Make a new version of each pipeline in a spec file (creating missing ones).

    Unchanged datums are skipped unless --reprocess.
    """
    client = app.client(ctx, wait=not no_wait)
    _warn_specs(client, spec)
    client.update_pipeline(spec, reprocess=reprocess)


@app.validate.command("pipeline")
def validate_pipeline(ctx: typer.Context, spec: SpecFile) -> None:
    """Parse a spec file and report problems; creates nothing."""
    for name in _warn_specs(app.client(ctx, wait=False), spec):
        print_line(f"{name}: ok")


@app.inspect.command("pipeline")
def inspect_pipeline(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME[^N]", help="A pipeline; name^ or name^2 for earlier versions.")
    ],
    raw: Raw = False,
) -> None:
    """Show a pipeline (or one of its earlier versions); --raw includes its spec."""
    info = app.client(ctx, wait=False).inspect_pipeline(name)
    if raw:
        print_raw(info)
        return
    print_fields(pipeline_fields(info))


def pipeline_fields(info: PipelineInfo) -> list[tuple[str, str]]:
    return [
        ("Name", info.name),
        ("Version", str(info.version)),
        ("State", info.state.value),
        ("Created", ago(info.created)),
        ("Input", input_text(info.spec.get("input"))),
        ("Input repos", ", ".join(info.inputs)),
        ("Spec commit", f"{info.name}.spec@{info.spec_commit}"),
        ("Last job", _last_job(info, long=True)),
    ]


def _last_job(info: PipelineInfo, long: bool = False) -> str:
    state = info.last_job_state.value if info.last_job_state is not None else "-"
    if not long:
        return state
    if info.last_job is None:
        return "-"
    return f"{info.name}@{info.last_job} ({state})"


@app.list_.command("pipeline")
def list_pipeline(ctx: typer.Context, raw: Raw = False) -> None:
    """List pipelines, newest first."""
    pipelines = app.client(ctx, wait=False).list_pipeline()
    if raw:
        print_raw(pipelines)
        return
    print_table(
        ["NAME", "VERSION", "INPUT", "CREATED", "STATE / LAST JOB"],
        [[p.name, str(p.version), input_text(p.spec.get("input")), ago(p.created),
          f"{p.state.value} / {_last_job(p)}"] for p in pipelines],
    )


def input_text(node: Any) -> str:
    """An input tree in one line, as pachctl lists it: ``repo:/glob``, ``(a ⨯ b)`` ..."""
    if not isinstance(node, Mapping) or len(node) != 1:
        return "-"
    kind, body = next(iter(node.items()))
    if kind == "pfs" and isinstance(body, Mapping):
        return f"{body.get('repo')}:{body.get('glob')}"
    if kind == "cron" and isinstance(body, Mapping):
        return f"{body.get('name')}:{body.get('spec')}"
    if kind in _OPERATORS and isinstance(body, Sequence):
        return "(" + _OPERATORS[kind].join(input_text(child) for child in body) + ")"
    return "-"


@app.delete.command("pipeline")
def delete_pipeline(
    ctx: typer.Context,
    name: Name,
    force: Annotated[
        bool, typer.Option("-f", "--force", help="Delete even if other pipelines read its output.")
    ] = False,
) -> None:
    """Delete a pipeline, its jobs, its output repo and its spec history."""
    app.client(ctx, wait=False).delete_pipeline(name, force)


@app.stop.command("pipeline")
def stop_pipeline(ctx: typer.Context, name: Name) -> None:
    """Pause a pipeline: new data makes no jobs until it is started again."""
    app.client(ctx, wait=False).stop_pipeline(name)


@app.start.command("pipeline")
def start_pipeline(ctx: typer.Context, name: Name, no_wait: NoWait = False) -> None:
    """Restart a stopped pipeline and run the jobs that data arrived for meanwhile."""
    app.client(ctx, wait=not no_wait).start_pipeline(name)


@app.run.command("cron")
def run_cron(ctx: typer.Context, name: Name, no_wait: NoWait = False, raw: Raw = False) -> None:
    """Tick a pipeline's cron inputs now (whatever their schedule) and run the job; prints the tick."""
    info = app.client(ctx, wait=not no_wait).run_cron(name)
    if raw:
        print_raw(info)
        return
    print_line(f"{info.repo}@{info.id}")


@app.draw.command("pipeline")
def draw_pipeline(ctx: typer.Context, raw: Raw = False) -> None:
    """The graph of repos and pipelines, one chain of arrows a line (input ──▶ pipeline)."""
    pipelines = app.client(ctx, wait=False).list_pipeline()
    edges = dag_edges(pipelines)
    if raw:
        print_raw([{"from": a, "to": b} for a, b in edges])
        return
    for chain in chains(edges):
        print_line(ARROW.join(chain))


def dag_edges(pipelines: Iterable[PipelineInfo]) -> list[tuple[str, str]]:
    """``(input repo, pipeline)`` for every input of every pipeline, sorted."""
    return sorted({(repo, p.name) for p in pipelines for repo in p.inputs})


def chains(edges: Sequence[tuple[str, str]]) -> list[list[str]]:
    """Cover every edge exactly once with chains ``a ──▶ b ──▶ c``, deterministically.

    Chains start at source repos (sorted), then at pipelines in dependency order, and
    each follows the first edge not yet drawn until it reaches a node with none left.
    """
    targets: dict[str, list[str]] = {}
    for a, b in edges:
        targets.setdefault(a, []).append(b)
    fed = {b for _, b in edges}
    starts = sorted(n for n in targets if n not in fed) + _dependency_order(edges)
    out: list[list[str]] = []
    for start in starts:
        while targets.get(start):
            chain = [start]
            node = start
            while targets.get(node):
                node = targets[node].pop(0)
                chain.append(node)
            out.append(chain)
    return out


def _dependency_order(edges: Sequence[tuple[str, str]]) -> list[str]:
    """Pipelines (nodes with inputs), each after every pipeline it reads."""
    inputs: dict[str, list[str]] = {}
    for a, b in edges:
        inputs.setdefault(b, []).append(a)
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for repo in inputs.get(name, []):
            visit(repo)
        if name in inputs:
            order.append(name)

    for name in sorted(inputs):
        visit(name)
    return order
