# Sourced by the GPU check scripts: `$python`, an interpreter whose JAX sees the GPU (the CUDA
# environment is set up first if the current one does not), and its devices printed.
python=${PYTHON:-.venv/bin/python}
if ! "$python" -c "import jax, sys; sys.exit(jax.default_backend() != 'gpu')" 2>/dev/null; then
  bash scripts/setup.sh cuda
  python=.venv/bin/python
fi
"$python" -c "import jax; print('devices:', jax.devices())"
