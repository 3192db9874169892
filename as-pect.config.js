// as-pect: unit tests of the pure AssemblyScript modules (no host needed).
export default {
  entries: ['tests/unit/**/*.spec.ts'],
  include: [],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
