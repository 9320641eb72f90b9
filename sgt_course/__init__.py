"""sgt-course: the helper library of the Saliency-Guided Training course.

One module per idea, in layers (no import runs back up):

1. :mod:`~sgt_course.checks` (argument checks), :mod:`~sgt_course.recipes` (how big each run is and with
   which settings: the run profiles, the papers' k, λ and ε), :mod:`~sgt_course.runtime` (device, seeds,
   folders, random draws), :mod:`~sgt_course.stats` (intervals, spreads over seeds, verdicts),
   :mod:`~sgt_course.tables`, :mod:`~sgt_course.recorded` (the numbers ``sgt-course claims`` recorded);
2. :mod:`~sgt_course.data` and :mod:`~sgt_course.models`;
3. :mod:`~sgt_course.saliency`, :mod:`~sgt_course.masking`, :mod:`~sgt_course.imputation` and
   :mod:`~sgt_course.attacks`;
4. :mod:`~sgt_course.losses` (one function per training regime, and the regimes by name);
5. :mod:`~sgt_course.training` (one step, the loop, the checkpoint cache) and :mod:`~sgt_course.timing`;
6. one module per kind of measurement: :mod:`~sgt_course.metrics` (saliency against ground truth),
   :mod:`~sgt_course.removal` (removal curves, the paper's Fig. 3, the fair study),
   :mod:`~sgt_course.robustness` (accuracy under attack) and :mod:`~sgt_course.sanity`;
7. :mod:`~sgt_course.plots`, :mod:`~sgt_course.experiments` (the notebooks' cached models) and
   :mod:`~sgt_course.static_explorers` (an explorer's frames, drawn ahead, for pages without a kernel);
8. :mod:`~sgt_course.widgets` and :mod:`~sgt_course.exercises`.

These are what the notebooks import. The course's tooling sits apart, in :mod:`sgt_course.tools` (the
``sgt-course`` command, the notebook pipeline, the deck, the site, the paper-size reproduction and the
benchmarks); nothing above imports it.
"""

__version__ = "0.1.0"
