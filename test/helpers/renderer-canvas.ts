// happy-dom has no canvas: a 2D context that draws nothing and keeps the texts it was asked to
// write, and a way to give every canvas one for the length of a test. Named renderer-* so that the renderer's tsconfig
// (the one with DOM types) checks it.

/** A stub 2D context; `texts` collects fillText's texts. */
export function stubContext(canvas: HTMLCanvasElement, texts: string[] = []): CanvasRenderingContext2D {
  const state: Record<string | symbol, unknown> = {};
  return new Proxy(state, {
    get(target, prop) {
      if (prop in target) return target[prop];
      if (prop === 'measureText') return (t: string) => ({ width: t.length * 6, actualBoundingBoxAscent: 8, actualBoundingBoxDescent: 2 });
      if (prop === 'getImageData') return () => ({ data: new Uint8ClampedArray(4) });
      if (prop === 'createLinearGradient' || prop === 'createPattern') return () => ({ addColorStop() {} });
      if (prop === 'getLineDash') return () => [];
      if (prop === 'canvas') return canvas;
      return (...args: unknown[]) => {
        if (prop === 'fillText') texts.push(String(args[0]));
      };
    },
    set(target, prop, value) {
      target[prop] = value;
      return true;
    },
  }) as unknown as CanvasRenderingContext2D;
}

/**
 * Runs `fn` with a stub context on every canvas (what components mount), then puts getContext back,
 * even when `fn` fails; `texts` collects what is written on any of them.
 */
export async function withStubCanvases(fn: () => Promise<void>, texts?: string[]): Promise<void> {
  const contexts = new WeakMap<HTMLCanvasElement, CanvasRenderingContext2D>();
  const original = Object.getOwnPropertyDescriptor(HTMLCanvasElement.prototype, 'getContext');
  Object.defineProperty(HTMLCanvasElement.prototype, 'getContext', {
    configurable: true,
    value(this: HTMLCanvasElement) {
      let ctx = contexts.get(this);
      if (ctx === undefined) contexts.set(this, (ctx = stubContext(this, texts)));
      return ctx;
    },
  });
  try {
    await fn();
  } finally {
    if (original) Object.defineProperty(HTMLCanvasElement.prototype, 'getContext', original);
  }
}
