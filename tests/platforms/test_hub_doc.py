"""The *On a JupyterHub* section and ``deploy/jupyterhub/`` agree, and every bash block of the
section is a step the hub test runs (a quick check that needs no root and no browser: the hub test
itself skips where it cannot run)."""

import ast
import re

import hub_doc
import pytest

pytestmark = pytest.mark.platforms

DEPLOY = hub_doc.REPO / "deploy" / "jupyterhub"
# The steps test_jupyterhub.py runs, and who runs each (platform_envs.py runs "install").
STEPS = {"install": hub_doc.Actor.ROOT, "configure": hub_doc.Actor.ROOT, "start": hub_doc.Actor.ROOT,
         "accounts": hub_doc.Actor.ROOT, "release": hub_doc.Actor.INSTRUCTOR, "grade": hub_doc.Actor.INSTRUCTOR}


def test_every_block_is_a_step_the_hub_test_runs():
    blocks = hub_doc.blocks()
    assert {step: block.actor for step, block in blocks.items()} == STEPS
    assert all(block.commands for block in blocks.values())
    assert len(re.findall(r"```bash\n", hub_doc.section())) == len(STEPS), "one block per step"


def test_the_install_step_is_what_the_environment_builder_understands():
    for command in hub_doc.blocks()["install"].commands:
        words = hub_doc.words(command)
        assert (command.startswith(("apt-get install ", "npm install -g ")) or words[:2] == ["git", "clone"]
                or words[:3] == ["python3", "-m", "venv"] or words[0].endswith("/bin/pip")), command


def test_the_section_uses_the_deployed_files_and_their_names():
    commands = " ".join(c for block in hub_doc.blocks().values() for c in block.commands)
    for name in ("jupyterhub_config.py", "nbgrader_config.py"):
        assert f"deploy/jupyterhub/{name}" in commands, name
        ast.parse((DEPLOY / name).read_text())  # the files are Python that loads
    [start] = hub_doc.blocks()["start"].commands
    assert re.fullmatch(r"cd (\S+) && (\S+/jupyterhub) -f (\S+/jupyterhub_config\.py)", start), start
    groups = {c.split()[-1] for c in hub_doc.blocks()["configure"].commands if c.startswith("groupadd ")}
    assert groups == set(hub_doc.GROUPS)
    hub_config = (DEPLOY / "jupyterhub_config.py").read_text()
    assert all(f'"{group}"' in hub_config for group in hub_doc.GROUPS)
    accounts = " ".join(hub_doc.blocks()["accounts"].commands)
    assert all(re.search(rf"\b{user}\b", accounts) for user in hub_doc.EXAMPLE_USERS)
    nbgrader_config = (DEPLOY / "nbgrader_config.py").read_text()
    assert "/srv/nbgrader/exchange" in nbgrader_config and "install -d -m 1777 /srv/nbgrader/exchange" in commands


def test_substitution_moves_paths_and_renames_whole_words_only():
    mapping = {"/opt/": "/tmp/x/opt/", "alice": "mla1"}
    assert hub_doc.substitute("chmod 700 /home/alice /opt/malice alice.txt", mapping) == \
        "chmod 700 /home/mla1 /tmp/x/opt/malice mla1.txt"
