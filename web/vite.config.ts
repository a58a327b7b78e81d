import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The web app, built into web/dist, which score-maker serves at `/` (npm run build:web).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Figures for the bundle budget (≤ 60 KB of JavaScript, gzipped) in the build's output.
    reportCompressedSize: true,
  },
});
