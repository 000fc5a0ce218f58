"""The library's own tests: pytest-xdist workers get one BLAS thread each."""

from mbp_verify.suite import pin_blas_threads_for_children

pin_blas_threads_for_children()
