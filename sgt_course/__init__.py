"""sgt-course: the helper library of the Saliency-Guided Training course.

One module per idea, in layers (no import runs back up): :mod:`~sgt_course.checks` and
:mod:`~sgt_course.runtime` (argument checks; device, seeds, run profiles) → :mod:`~sgt_course.data`,
:mod:`~sgt_course.models` and :mod:`~sgt_course.recipes` (the settings that are not sizes) →
:mod:`~sgt_course.saliency`, :mod:`~sgt_course.masking`,
:mod:`~sgt_course.imputation` and :mod:`~sgt_course.attacks` → :mod:`~sgt_course.losses` (one function
per training regime, and the regimes by name) → :mod:`~sgt_course.training` (one step, the loop, the checkpoint cache) and
:mod:`~sgt_course.timing` →
:mod:`~sgt_course.metrics`, :mod:`~sgt_course.removal_study` and :mod:`~sgt_course.sanity` →
:mod:`~sgt_course.plots` and :mod:`~sgt_course.experiments` (the notebooks' cached models) →
:mod:`~sgt_course.widgets` and :mod:`~sgt_course.exercises`. These are what the notebooks import.

The course's tooling sits apart, in :mod:`sgt_course.tools` (the ``sgt-course`` command, the notebook
pipeline, the deck, the paper-size reproduction and the benchmarks); nothing above imports it.
"""

__version__ = "0.1.0"
