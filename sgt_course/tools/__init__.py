"""The course's tooling, apart from the teaching library: no notebook imports it, and no teaching module
imports from here (a test reads the imports).

- :mod:`~sgt_course.tools.cli`: the ``sgt-course`` command;
- :mod:`~sgt_course.tools.notebook_tools`: find, pair (jupytext), execute the notebooks, write the student versions;
- :mod:`~sgt_course.tools.slides`: the seminar deck, executed and exported to reveal.js;
- :mod:`~sgt_course.tools.reproduce`: the paper-size runs (resumable, data-parallel under torchrun);
- :mod:`~sgt_course.tools.bench`, :mod:`~sgt_course.tools.step_cost`, :mod:`~sgt_course.tools.claims` and
  :mod:`~sgt_course.tools.gpu_check`: the benchmarks (figures in ``benchmarks/RESULTS.md``).
"""
