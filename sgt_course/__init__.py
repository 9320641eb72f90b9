"""sgt-course: the helper library of the Saliency-Guided Training course.

One module per idea: :mod:`~sgt_course.runtime` (device, seeds, run profile), :mod:`~sgt_course.data`
(datasets), :mod:`~sgt_course.models`, :mod:`~sgt_course.losses` (one function per training regime),
:mod:`~sgt_course.training` (the loop and the checkpoint cache) and :mod:`~sgt_course.plots`.
"""

__version__ = "0.1.0"
