"""The ``packaging`` marker: tests that build, install and inspect the package.

They take a few minutes (one build per session, two fresh virtual environments)
and need the packaging tools of the ``test`` extra.  ``.ci/run`` runs them;
``-m "not packaging"`` leaves them out locally.
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "packaging: builds, installs and inspects the sdist and wheel "
        "(slow; deselect with -m 'not packaging')",
    )
