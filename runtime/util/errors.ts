// Errors a user sees. Each carries Docker's exit code for the failure class:
// 125 when skiff itself fails, 126 when the command cannot be invoked, 127
// when it is not found.
export class SkiffError extends Error {
  constructor(message: string, readonly exitCode = 125) {
    super(message);
  }
}

export const EXIT = { RUNTIME: 125, CANNOT_INVOKE: 126, NOT_FOUND: 127 } as const;
