from memcollab_cli.cli.main import run

run()
