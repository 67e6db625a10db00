// Runs before each test file's imports: openapi-fetch keeps the fetch it finds when the client is made, so a
// stub must be in place first. Files that need their own stub still replace it with vi.hoisted.
import { vi } from "vitest";

vi.stubGlobal("fetch", vi.fn<(request: Request) => Promise<Response>>());
