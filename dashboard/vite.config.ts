import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build is embedded into the C++ server (dashboard/embed.py -> a generated .cpp), which
// serves index.html at / and the hashed files at /assets/*. No inline scripts or styles, so the
// server's Content-Security-Policy can be strict (script-src 'self').
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    assetsInlineLimit: 0,       // every asset a file: no data: URLs in scripts or styles
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
    target: "es2020",
  },
});
