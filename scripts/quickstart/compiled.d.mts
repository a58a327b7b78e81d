/** See compiled.mjs: the compiled quick start's URL, or undefined to run the sources through tsx. */
export function compiledQuickstart(rootUrl: URL, options?: { outDir?: string }): Promise<string | undefined>;
