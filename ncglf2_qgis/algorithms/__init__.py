"""Processing algorithms, one module each, over a shared base."""


def all_algorithms() -> list:
    """Fresh instances of every algorithm the provider offers."""
    from .assess import AssessAlgorithm
    from .classify import ClassifyAlgorithm
    from .import_reference import ImportReferenceAlgorithm
    from .install_engine import InstallEngineAlgorithm
    from .train import TrainAlgorithm

    return [
        TrainAlgorithm(),
        ClassifyAlgorithm(),
        AssessAlgorithm(),
        ImportReferenceAlgorithm(),
        InstallEngineAlgorithm(),
    ]
