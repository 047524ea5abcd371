import { defineConfig } from 'tsup'

// ESM + CJS with declarations. Peer and runtime dependencies stay external:
// bundling Yjs would load it twice next to the app's own copy.
export default defineConfig({
  entry: { index: 'src/index.ts', 'react/index': 'src/react/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2020',
  treeshake: true,
  splitting: false,
  external: ['yjs', 'y-protocols', 'lib0', 'msgpackr', 'react'],
})
