// Module hooks (node:module register) that make `import ... from 'electron'` load the stand-in of
// fake-electron.mjs, so the built main process (dist/electron/main.js) runs under plain Node.

const FAKE = new URL('./fake-electron.mjs', import.meta.url).href;

/** Resolves the bare specifier 'electron' to the stand-in; everything else as usual. */
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'electron') return { url: FAKE, shortCircuit: true };
  return nextResolve(specifier, context);
}
