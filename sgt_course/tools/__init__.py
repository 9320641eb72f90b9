"""The course's tooling, apart from the teaching library: no notebook imports it, and no teaching module
imports from here (a test reads the imports).

- :mod:`~sgt_course.tools.cli`: the ``sgt-course`` command;
- :mod:`~sgt_course.tools.notebook_files`: find the notebooks, keep them paired (jupytext), write the student versions;
- :mod:`~sgt_course.tools.headless`: execute a notebook in a fresh kernel, with the stacks of a hung cell;
- :mod:`~sgt_course.tools.run_records`: what an executed notebook carries (profile, data, machine, date);
- :mod:`~sgt_course.tools.prepare` and :mod:`~sgt_course.tools.cache_archive`: prepare a class ahead (every
  model trained and cached) and move its cache as one archive, checked on import;
- :mod:`~sgt_course.tools.slides`: the seminar deck, executed and exported to reveal.js;
- :mod:`~sgt_course.tools.site`: the course website;
- :mod:`~sgt_course.tools.reproduce`: the paper-size runs (resumable, data-parallel under torchrun);
- :mod:`~sgt_course.tools.bench`, :mod:`~sgt_course.tools.step_cost`, :mod:`~sgt_course.tools.claims` and
  :mod:`~sgt_course.tools.gpu_check`: the benchmarks (figures in ``benchmarks/RESULTS.md``).
"""
