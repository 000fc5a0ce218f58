"""A module that never finishes importing."""

import time

time.sleep(3600)


def prune(weights, n_prune):  # never reached
    return weights != 0
