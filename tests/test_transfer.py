"""`transfer`, the report renderers and the `eval`/`transfer` commands (from trajectory files)."""

import json

import pytest
import typer
from typer.testing import CliRunner

from memcollab_cli.cli import eval_cmd, transfer_cmd
from memcollab_cli.jsonl import write_jsonl
from memcollab_cli.records import Trajectory
from memcollab_cli.use import report
from memcollab_cli.use.evaluate import results_from_runs


def record(model, condition, task_id, correct, benchmark="toy"):
    return Trajectory(
        task_id=str(task_id), benchmark=benchmark, model={"name": model, "sha256": ""},
        condition={"name": condition}, params={"temperature": 0.0, "seed": 42}, messages=[],
        turns=1, answer="", correct=correct, verdict="pass" if correct else "fail").to_record()


def runs(path, worse=False):
    """Model a: none 4/10, bank 7/10 (or 2/10 with `worse`); model b: none only, 2/4."""
    bank_right = {0, 1} if worse else {2, 3, 4, 5, 6, 7, 8}
    recs = [record("a", "none", i, i < 4) for i in range(10)]
    recs += [record("a", "bank", i, i in bank_right) for i in range(10)]
    recs += [record("b", "none", i, i % 2 == 0) for i in range(4)]
    write_jsonl(path, recs)
    return path


NOTE = ("Accuracy; in parentheses the paired difference from no memory in percentage points, "
        "over the tasks both ran; n tasks per cell. Intervals, McNemar p-values and the smallest "
        "detectable differences: `--json`.\n")


def test_markdown_table_exact(tmp_path):
    result = results_from_runs([runs(tmp_path / "r.jsonl")], labels={"bank": "collab | x"})
    assert report.markdown_table(result) == (
        "| model | none | collab \\| x |\n"
        "|---|---:|---:|\n"
        "| a | 40.0%, n=10 | 70.0% (+30.0), n=10 |\n"
        "| b | 50.0%, n=4 | – |\n"
        "\n" + NOTE)


def test_number_formats():
    assert report.pp(-0.0001) == "+0.0" and report.pp(-0.125) == "-12.5"
    assert report.pct(1 / 3) == "33.3%" and report.p_value(0.0004) == "<0.001"


def test_rich_tables_render(tmp_path):
    from rich.console import Console

    result = results_from_runs([runs(tmp_path / "r.jsonl")])
    console = Console(width=200, record=True)
    for table in report.eval_tables(result) + report.transfer_tables(result):
        console.print(table)
    text = console.export_text()
    assert "70.0% [39.7, 89.2]" in text and "+30.0 [-18.6, +65.0]" in text and "5/2" in text
    assert "65.7" in text and "not run" in text  # MDE at 7 of 10 discordant; no noise floor arm
    assert "p=0.453 MDE 65.7" in text  # the transfer matrix


def test_forest_png(tmp_path):
    pytest.importorskip("matplotlib")
    result = results_from_runs([runs(tmp_path / "r.jsonl")])
    drawn = report.forest_png(result, tmp_path / "plots" / "forest.png")
    assert drawn.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [(r.model, r.condition) for r in drawn.rows] == [("a", "bank")]  # b ran no bank
    row = drawn.rows[0]
    d = result.cell("a", "bank").vs_none
    assert (row.n, row.diff, row.low, row.high) == (d.n, 100 * d.diff, 100 * d.low, 100 * d.high)
    assert all(p.band is None for p in drawn.panels)  # no noise-floor arm ran


def test_forest_needs_an_arm_against_no_memory(tmp_path):
    from memcollab_cli.errors import MemcollabError

    result = results_from_runs([runs(tmp_path / "r.jsonl")], conditions=["none"])
    with pytest.raises(MemcollabError, match="nothing to plot"):
        report.forest_png(result, tmp_path / "h.png")


# ---------------------------------------------------------------------------------------------
# the library function with scripted models


def respond(request):
    """Classify as arithmetic; right with memory in the prompt, else only on task 0."""
    if request.json_schema is not None:
        return json.dumps({"category": "Prealgebra",
                           "subcategory": "Order of Operations & Arithmetic"})
    a = int(request.messages[1]["content"].split()[2])
    good = "Reasoning constraints" in request.messages[0]["content"] or a == 0
    return f"\\boxed{{{a + 3 if good else 0}}}"


def toy_setup(tmp_path, labeller=""):
    from memcollab_cli.memory import MemoryEntry

    tasks_file = tmp_path / "toy.jsonl"
    write_jsonl(tasks_file, [{"id": str(i), "question": f"What is {i} + 3?",
                              "answer": str(i + 3)} for i in range(4)])
    bank = tmp_path / "collab.jsonl"
    write_jsonl(bank, [MemoryEntry.create(
        "Prealgebra", "Order of Operations & Arithmetic", "adding", "check the sum", "guessing",
        sources=[{"task_id": "t", "benchmark": "train", "split": "train", "pos": "a",
                  "neg": "b"}],
        summarizer=labeller).to_dict()])
    return tasks_file, bank


def test_transfer_loads_one_model_at_a_time(tmp_path):
    from memcollab_cli.runtime.scripted import ScriptedModel
    from memcollab_cli.tasks import load_tasks
    from memcollab_cli.use.transfer import transfer

    tasks_file, bank = toy_setup(tmp_path)
    events = []

    class Tracked(ScriptedModel):
        def close(self):
            events.append(f"close {self.name}")

    def load(spec):
        events.append(f"open {spec}")
        return Tracked(name=spec, respond=respond)

    result = transfer(["small", "big"], load_tasks(str(tasks_file)), tmp_path / "runs",
                      {"collab": bank}, load=load, routing="self")
    assert events == ["open small", "close small", "open big", "close big"]
    assert result.models == ["small", "big"]
    assert report.markdown_table(result).splitlines()[2:4] == [
        "| small | 25.0%, n=4 | 100.0% (+75.0), n=4 |",
        "| big | 25.0%, n=4 | 100.0% (+75.0), n=4 |"]


# ---------------------------------------------------------------------------------------------
# the commands


@pytest.fixture
def app():
    app = typer.Typer()
    app.command(name="eval")(eval_cmd.eval_)
    app.command()(transfer_cmd.transfer)
    return app


@pytest.fixture
def cli(app, monkeypatch):
    monkeypatch.setenv("TERMINAL_WIDTH", "3000")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_eval_from_runs_json(cli, tmp_path):
    res = cli("eval", "--from-runs", runs(tmp_path / "r.jsonl"), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["models"] == ["a", "b"]
    bank = [r for r in data["results"] if r["condition"] == "bank"][0]
    assert bank["vs_none"] == {"n": 10, "diff": 0.3, "ci95": bank["vs_none"]["ci95"], "wins": 5,
                               "losses": 2, "both": 2, "neither": 1, "mcnemar_p": 0.453125,
                               "detectable": 0.656572}
    assert data["noise_floor"] == {} and data["routing_agreement"] == []


def test_eval_from_runs_table_and_model_filter(cli, tmp_path):
    res = cli("eval", "--from-runs", runs(tmp_path / "r.jsonl"), "--model", "b")
    assert res.exit_code == 0, res.output
    assert "b · toy" in res.stdout and "a · toy" not in res.stdout


def test_fail_if_worse_exit_status(cli, tmp_path):
    good = cli("eval", "--from-runs", runs(tmp_path / "g.jsonl"), "--fail-if-worse")
    assert good.exit_code == 0
    bad = cli("eval", "--from-runs", runs(tmp_path / "w.jsonl", worse=True), "--fail-if-worse")
    assert bad.exit_code == 3
    assert "1 bank condition(s) scored below no memory: a/bank (-20.0 pp)" in bad.stderr
    assert cli("transfer", "--from-runs", tmp_path / "w.jsonl", "--fail-if-worse").exit_code == 3


def test_eval_merge(cli, tmp_path):
    whole = runs(tmp_path / "whole.jsonl")
    lines = whole.read_text().splitlines(keepends=True)
    (tmp_path / "s0.jsonl").write_text("".join(lines[0::2]))
    (tmp_path / "s1.jsonl").write_text("".join(lines[1::2]))
    res = cli("eval", "--merge", tmp_path / "m.jsonl", tmp_path / "s1.jsonl",
              tmp_path / "s0.jsonl", "--json")
    assert res.exit_code == 0, res.output
    assert "Merged 24 records from 2 file(s)" in res.stderr
    assert json.loads(res.stdout) == results_from_runs([whole]).to_dict()


def test_transfer_from_runs_markdown_and_png(cli, tmp_path):
    path = runs(tmp_path / "r.jsonl")
    res = cli("transfer", "--from-runs", path, "--markdown", "--bank", f"collab={path}")
    assert res.exit_code == 0, res.output
    # The file's stem is r, so the requested condition has no runs: shown, but empty.
    assert res.stdout.splitlines()[0] == "| model | none | collab |"
    assert res.stdout.splitlines()[2] == "| a | 40.0%, n=10 | – |"
    res = cli("transfer", "--from-runs", path, "--markdown")
    assert res.stdout == report.markdown_table(results_from_runs([path]))
    if pytest.importorskip("matplotlib"):
        for flag in ("--plot", "--png"):  # --png: the old name, when it drew a heatmap
            res = cli("transfer", "--from-runs", path, flag, tmp_path / f"h{flag}.png")
            assert res.exit_code == 0 and (tmp_path / f"h{flag}.png").exists()
            assert "Wrote forest plot" in res.stderr


def test_bad_arguments_exit_2(cli, tmp_path):
    path = runs(tmp_path / "r.jsonl")
    res = cli("eval", "--from-runs", path, "--bank", "=x.jsonl")
    assert res.exit_code == 2 and "empty NAME" in res.output
    res = cli("eval", "--from-runs", path, "--bank", "c=missing.jsonl")
    assert res.exit_code == 2 and "no bank file" in res.output
    res = cli("eval", "--from-runs", path, "--bank", f"c={path}", "--bank", f"c={path}")
    assert res.exit_code == 2 and "given twice" in res.output
    res = cli("eval")
    assert res.exit_code == 2 and "--model" in res.output
    res = cli("eval", "-m", "x", "-b", "gsm8k", path)
    assert res.exit_code == 2 and "without --from-runs" in res.output
    res = cli("transfer", "--from-runs", path, "--markdown", "--json")
    assert res.exit_code == 2


def test_help_documents_exit_status(cli):
    for command in ("eval", "transfer"):
        res = cli(command, "--help")
        assert res.exit_code == 0 and "Exit status" in res.stdout and "Examples" in res.stdout


def test_transfer_command_runs_models(cli, tmp_path, monkeypatch):
    from memcollab_cli.cli import common
    from memcollab_cli.runtime.scripted import ScriptedModel

    tasks_file, bank = toy_setup(tmp_path, labeller="small")
    opened = []

    def open_model(spec, *args, **kwargs):
        opened.append(spec)
        return ScriptedModel(name=spec, respond=respond)

    monkeypatch.setattr(common, "open_model", open_model)
    res = cli("transfer", "-m", "big", "-m", "small", "-b", tasks_file, "--bank",
              f"MemCollab={bank}", "-o", tmp_path / "runs", "--markdown")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:4] == [
        "| model | none | MemCollab |", "|---|---:|---:|",
        "| big | 25.0%, n=4 | 100.0% (+75.0), n=4 |",
        "| small | 25.0%, n=4 | 100.0% (+75.0), n=4 |"]
    assert sorted(p.name for p in (tmp_path / "runs").glob("*.jsonl")) == [
        "big.jsonl", "labels.jsonl", "small.jsonl"]
    # big's tasks were labelled by the bank's labeller (opened once); small found them cached
    assert opened == ["big", "small", "small"]
    res = cli("transfer", "--from-runs", tmp_path / "runs" / "big.jsonl",
              tmp_path / "runs" / "small.jsonl", "--json")
    data = json.loads(res.stdout)
    assert data["routing_agreement"] == [{"a": ["big", "collab"], "b": ["small", "collab"],
                                          "n": 4, "category": 4, "subcategory": 4}]
    routing = [r["routing"] for r in data["results"] if r["condition"] == "collab"]
    assert routing == [{"routing": "labeller", "labeller": "small", "n": 4, "with_memory": 4,
                        "stand_ins": 0}] * 2
