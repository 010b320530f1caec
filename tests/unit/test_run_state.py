"""The rules every phase shares about its folders: one digest, one done marker, one resume rule, one start rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from r1.errors import ConfigError, DataError
from r1.paths import conf_dir
from r1.phases.checkpoints import checkpoint_problem, is_intact_checkpoint, newest_intact_checkpoint
from r1.phases.common import (
    DONE_FILE,
    config_hash,
    digest,
    is_done,
    mark_done,
    read_done,
    resume_state,
)


def compose_with(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def write_checkpoint(path: Path, step: int) -> Path:
    torch.save({"global_step": step}, path)
    return path


# ----------------------------------------------------------------------------- digest


def test_config_hash_is_the_digest_of_what_a_run_computes():
    cfg = compose_with("phase=sft")
    assert config_hash(cfg) == config_hash(compose_with("phase=sft", "paths.output_root=/elsewhere", "logger=none", "ckpt_path=x.ckpt"))
    assert config_hash(cfg) != config_hash(compose_with("phase=sft", "seed=1"))
    assert config_hash(cfg, "seed", "task") == digest({"seed": 0, "task": OmegaConf.to_container(cfg.task, resolve=True)})
    assert digest({"b": 1, "a": [1, 2]}) == digest({"a": [1, 2], "b": 1}) != digest({"a": [2, 1], "b": 1})


# ----------------------------------------------------------------------------- done marker


def test_a_folder_is_done_only_once_marked(tmp_path):
    folder = tmp_path / "stage"
    assert not is_done(folder) and read_done(folder) is None
    mark_done(folder, {"hf_dir": "x", "path": Path("y")})
    assert is_done(folder) and read_done(folder) == {"hf_dir": "x", "path": "y"}
    assert [p.name for p in folder.iterdir()] == [DONE_FILE]  # no temporary file left behind


# ----------------------------------------------------------------------------- resume


def test_newest_intact_checkpoint_skips_a_file_killed_mid_write(tmp_path):
    older = write_checkpoint(tmp_path / "step000005.ckpt", 5)
    newer = write_checkpoint(tmp_path / "step000010.ckpt", 10)
    assert newest_intact_checkpoint(tmp_path) == newer
    newer.write_bytes(newer.read_bytes()[:100])  # what a kill during the write leaves
    assert not is_intact_checkpoint(newer) and newest_intact_checkpoint(tmp_path) == older
    sharded = tmp_path / "step000020.ckpt"
    sharded.mkdir()
    assert not is_intact_checkpoint(sharded)  # a sharded folder without its final marker
    (sharded / ".metadata").write_bytes(b"")
    assert newest_intact_checkpoint(tmp_path) == sharded


def test_the_same_command_resumes_until_the_run_is_done(tmp_path):
    cfg = compose_with("phase=sft", f"paths.output_root={tmp_path}")
    first = resume_state(cfg, "sft", tmp_path / "run1")
    assert first.dir.parent == tmp_path / "state" and first.dir.name == f"sft-{config_hash(cfg)}" and first.ckpt_path is None
    write_checkpoint(first.checkpoints / "step000005.ckpt", 5)
    again = resume_state(cfg, "sft", tmp_path / "run2")  # killed, then the same command
    assert again.dir == first.dir and again.ckpt_path == str(first.checkpoints / "step000005.ckpt")
    assert (first.dir / "run_dir.txt").read_text().strip() == str(tmp_path / "run2")
    mark_done(again.dir, {"steps": 12})
    fresh = resume_state(cfg, "sft", tmp_path / "run3")  # finished: the same command starts afresh
    assert fresh.ckpt_path is None and not is_done(fresh.dir) and not list(fresh.checkpoints.iterdir())
    other = resume_state(compose_with("phase=sft", f"paths.output_root={tmp_path}", "seed=1"), "sft", tmp_path / "run4")
    assert other.dir != fresh.dir


def test_ckpt_path_overrides_and_must_exist(tmp_path):
    chosen = write_checkpoint(tmp_path / "elsewhere.ckpt", 3)
    cfg = compose_with("phase=sft", f"paths.output_root={tmp_path}", f"ckpt_path={chosen}")
    state = resume_state(cfg, "sft", tmp_path / "run")
    write_checkpoint(state.checkpoints / "step000009.ckpt", 9)
    assert resume_state(cfg, "sft", tmp_path / "run").ckpt_path == str(chosen)
    missing = compose_with("phase=sft", f"paths.output_root={tmp_path}", f"ckpt_path={tmp_path / 'nope.ckpt'}")
    with pytest.raises(DataError, match=r"ckpt_path '.*nope.ckpt' does not exist"):
        resume_state(missing, "sft", tmp_path / "run")


# ----------------------------------------------------------------------------- starting policy


def finish_fake_run(root: Path, phase: str, phase_cfg, where: str = "state") -> Path:
    """What a finished run of ``phase_cfg`` leaves: a done marker naming its exported folder."""
    from safetensors.torch import save_file

    hf_dir = root / f"{phase}-run" / "hf"
    hf_dir.mkdir(parents=True)
    (hf_dir / "config.json").write_text("{}")
    save_file({"weight": torch.zeros(2, 3)}, str(hf_dir / "model.safetensors"))
    mark_done(root / where / f"{phase}-{config_hash(phase_cfg)}", {"hf_dir": str(hf_dir)})
    return hf_dir


def test_rejection_samples_from_the_grpo_model_else_its_sft_model_else_says_what_to_run(tmp_path):
    from r1.phases.start import sampling_policy

    cfg = compose_with("phase=rejection", f"paths.output_root={tmp_path}")
    with pytest.raises(ConfigError, match=r"no finished GRPO run or no cold-start SFT model matches this config.*phase=grpo.*init_from=model"):
        sampling_policy(cfg, "auto", [])
    grpo_cfg = compose_with("phase=grpo")
    sft_cfg = compose_with("phase=sft", *grpo_cfg.phase.sft)
    sft_dir = finish_fake_run(tmp_path, "sft", sft_cfg, where="cache")
    assert sampling_policy(cfg, "auto", []).name_or_path == str(sft_dir)
    with pytest.raises(ConfigError, match="no finished GRPO run matches"):
        sampling_policy(cfg, "grpo", [])
    grpo_dir = finish_fake_run(tmp_path, "grpo", grpo_cfg)
    assert sampling_policy(cfg, "auto", []).name_or_path == str(grpo_dir)
    assert sampling_policy(cfg, "sft", []).name_or_path == str(sft_dir)
    # another GRPO config: not that run's model, but the same cold-start SFT model it starts from
    assert sampling_policy(cfg, "auto", ["phase.max_steps=7"]).name_or_path == str(sft_dir)
    assert sampling_policy(cfg, "model", []) == cfg.model
    with pytest.raises(DataError, match="phase.init_from '.*missing' does not exist"):
        sampling_policy(cfg, str(tmp_path / "missing"), [])


def test_a_given_checkpoint_wins_over_the_cached_models(tmp_path):
    from r1.phases.start import sampling_policy

    cfg = compose_with("phase=rejection", f"paths.output_root={tmp_path}", "model=hf", "model.name_or_path=some/model")
    assert sampling_policy(cfg, "auto", []).name_or_path == "some/model"


def test_done_marker_of_a_deleted_export_is_not_a_model(tmp_path):
    from r1.phases.start import finished_model

    grpo_cfg = compose_with("phase=grpo")
    hf_dir = finish_fake_run(tmp_path, "grpo", grpo_cfg)
    assert finished_model(tmp_path, "grpo", grpo_cfg) == hf_dir
    (hf_dir / "config.json").unlink()
    assert finished_model(tmp_path, "grpo", grpo_cfg) is None
    assert json.loads((tmp_path / "state" / f"grpo-{config_hash(grpo_cfg)}" / DONE_FILE).read_text())["hf_dir"] == str(hf_dir)


# ----------------------------------------------------------------------------- damaged checkpoints


def test_resume_passes_over_a_damaged_newest_checkpoint_in_one_line(tmp_path, capsys):
    cfg = compose_with("phase=sft", f"paths.output_root={tmp_path}")
    state = resume_state(cfg, "sft", tmp_path / "run")
    older = write_checkpoint(state.checkpoints / "step000005.ckpt", 5)
    newest = write_checkpoint(state.checkpoints / "step000010.ckpt", 10)
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # a kill (or a full disk) in the middle of the write
    capsys.readouterr()
    assert resume_state(cfg, "sft", tmp_path / "run").ckpt_path == str(older)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"[sft] skipping the damaged checkpoint {newest}") and str(older) in lines[1]


def test_a_checkpoint_overwritten_inside_is_damaged_too(tmp_path):
    import zipfile

    path = write_checkpoint(tmp_path / "step000010.ckpt", 10)
    with zipfile.ZipFile(path) as archive:
        (pickled,) = [m for m in archive.infolist() if m.filename.endswith("/data.pkl")]
        (tensor,) = [m for m in archive.infolist() if m.filename.endswith("/version")]
    data = bytearray(path.read_bytes())
    at = pickled.header_offset  # the member's data follows its local header (30 bytes, its name, its own extra field)
    start = at + 30 + int.from_bytes(data[at + 26 : at + 28], "little") + int.from_bytes(data[at + 28 : at + 30], "little")
    data[start + 2] ^= 0xFF  # one byte of the pickle
    path.write_bytes(bytes(data))
    assert "CRC" in (checkpoint_problem(path) or "")
    data = bytearray(write_checkpoint(path, 10).read_bytes())
    data[tensor.header_offset : tensor.header_offset + 4] = b"\0\0\0\0"  # a member's header overwritten
    path.write_bytes(bytes(data))
    assert "version is cut off or overwritten" in (checkpoint_problem(path) or "")
    assert is_intact_checkpoint(write_checkpoint(path, 10))


@pytest.mark.parametrize(("content", "message"), [
    (None, r"^ckpt_path is empty; give a checkpoint"),
    (b"", r"cannot be resumed from: the file is empty"),
    (b"not a checkpoint", r"cannot be resumed from: it is not a torch.save file"),
])
def test_an_empty_or_garbage_ckpt_path_is_one_line(tmp_path, content, message):
    if content is None:
        value = "''"
    else:
        value = str(tmp_path / "given.ckpt")
        Path(value).write_bytes(content)
    cfg = compose_with("phase=sft", f"paths.output_root={tmp_path}", f"ckpt_path={value}")
    with pytest.raises((ConfigError, DataError), match=message):
        resume_state(cfg, "sft", tmp_path / "run")
    assert not (tmp_path / "state").exists()  # refused before any folder is made


# ----------------------------------------------------------------------------- one run per folder

HOLD_LOCK = "import sys; from r1.phases.common import lock_folder; lock_folder(sys.argv[1]); print('locked', flush=True); sys.stdin.read()"


def hold_lock(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s lock until its stdin closes."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_of_the_same_command_is_refused_while_the_first_works(tmp_path):
    cfg = compose_with("phase=sft", f"paths.output_root={tmp_path}")
    state_dir = tmp_path / "state" / f"sft-{config_hash(cfg)}"
    holder = hold_lock(state_dir)
    try:
        write_checkpoint(make_dirs(state_dir / "checkpoints") / "step000005.ckpt", 5)
        with pytest.raises(ConfigError, match=rf"^another run is using {state_dir} \(pid {holder.pid}\); wait for it"):
            resume_state(cfg, "sft", tmp_path / "run")
        assert (state_dir / "checkpoints" / "step000005.ckpt").is_file()  # the running job's checkpoints are untouched
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    state = resume_state(cfg, "sft", tmp_path / "run")  # the holder is gone (as after kill -9): the lock went with it
    assert state.ckpt_path == str(state_dir / "checkpoints" / "step000005.ckpt")
    assert resume_state(cfg, "sft", tmp_path / "run").dir == state.dir  # this process may claim its own folder again
    mark_done(state.dir, {"steps": 5})  # finished: released for the next run
    holder = hold_lock(state_dir)
    holder.stdin.close()
    holder.wait(timeout=30)


def test_a_second_rejection_job_on_the_same_folder_is_refused(tmp_path):
    from r1.phases.rejection import claim_folder

    folder = tmp_path / "rejection" / "run-x"
    holder = hold_lock(folder)
    try:
        (folder / ".chunk.json.1.tmp").write_text("being written by the running job")
        with pytest.raises(ConfigError, match=rf"^another run is using {folder} \(pid {holder.pid}\)"):
            claim_folder(folder, {"seed": 0})
        assert (folder / ".chunk.json.1.tmp").exists()  # its files in progress are not swept away
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    claim_folder(folder, {"seed": 0})
    assert not (folder / ".chunk.json.1.tmp").exists()


def make_dirs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ----------------------------------------------------------------------------- the cached cold-start model


def test_a_cached_sft_model_with_truncated_weights_is_trained_again(tmp_path, monkeypatch, capsys):
    from safetensors.torch import save_file

    import r1.phases
    from r1.phases.compose import compose_phase
    from r1.phases.start import cached_sft

    cfg = compose_with("phase=grpo", f"paths.output_root={tmp_path}")
    folder = tmp_path / "cache" / f"sft-{config_hash(compose_phase('sft', []))}"
    hf_dir = folder / "hf"

    def fake_sft(sft_cfg):  # what phase=sft leaves: a whole model, then its summary
        make_dirs(hf_dir)
        (hf_dir / "config.json").write_text("{}")
        save_file({"weight": torch.zeros(64, 64)}, str(hf_dir / "model.safetensors"))
        trained.append(sft_cfg.paths.run_dir)
        return {"hf_dir": str(hf_dir)}

    trained: list[str] = []
    monkeypatch.setattr(r1.phases, "dispatch", fake_sft)
    assert cached_sft(cfg, []) == hf_dir and trained == [str(folder)] and is_done(folder)
    assert cached_sft(cfg, []) == hf_dir and len(trained) == 1  # whole: reused
    weights = hf_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])  # the disk filled up, or a copy was cut short
    capsys.readouterr()
    assert cached_sft(cfg, []) == hf_dir and len(trained) == 2  # broken: trained again, not trusted
    out = capsys.readouterr().out
    assert "is broken (model.safetensors is cut off (5000 of its" in out and "training it again" in out
