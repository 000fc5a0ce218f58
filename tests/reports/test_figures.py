"""Report figures: PNG written atomically, no display needed."""

from mbp_verify.reports.figures import new_figure, save_figure


def test_figure_is_a_png_file(tmp_path):
    figure, axes = new_figure(ncols=2)
    axes[0].plot([1, 2, 3], [1, 4, 9])
    target = save_figure(figure, tmp_path / "sub" / "plot.png")
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert [p.name for p in target.parent.iterdir()] == ["plot.png"]  # no temporary file left behind
