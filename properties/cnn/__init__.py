"""Convolutional networks: conv layers against torch and the unfolded dense operator, exact
counts over kernels, and certified conv operator norms against dense SVDs."""
