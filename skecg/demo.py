"""The main job: ``python -m skecg.demo`` (``make demo``).

For now it prints a summary of the bundled real sample; the cross-dataset experiment
lands with the main-job issue.
"""

from .datasets import sample_summary


def main() -> None:
    print(sample_summary())


if __name__ == "__main__":
    main()
