import argparse
import sys

from .cli import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m sandbox", description="Serve a local SMS gateway sandbox.")
add_arguments(parser)
sys.exit(run(parser.parse_args()))
