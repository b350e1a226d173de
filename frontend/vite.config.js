// Vite build of the onemap front end: one page, bundled with maplibre-gl; the app serves dist/ at /.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
});
