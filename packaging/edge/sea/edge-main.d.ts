// The edge's command line module (packages/edge-client/dist/main.js), as main.ts uses it.
declare module 'canbridge-edge-main' {
  export function main(
    argv: readonly string[],
    env: Record<string, string | undefined>,
  ): Promise<number>
}
