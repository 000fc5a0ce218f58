"""A module that ends the interpreter while it is imported."""

import sys

sys.exit(0)


def prune(weights, n_prune):  # never reached
    return weights != 0
