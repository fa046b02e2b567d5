import { beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import type { KindSchema } from "../bindings";
import CredentialEditor from "./CredentialEditor.svelte";
import * as api from "../lib/api";

vi.mock(import("../lib/api"), async (importOriginal) => {
  const real = await importOriginal();
  return { ...real, kinds: vi.fn(), credentialForm: vi.fn(), saveCredential: vi.fn() };
});

const KINDS: KindSchema[] = [
  {
    kind: "x509_file",
    label: "X.509 file",
    description: "A certificate file renewed by a command.",
    has_heartbeats: false,
    enrolment_token: null,
    fields: [
      { key: "path", label: "Certificate file", help: "PEM file to watch.", field_type: "path", required: true, choices: [], placeholder: "~/certs/web.pem", runs_program: false },
      { key: "alt_names", label: "Alternative names", help: "One name per line.", field_type: "list", required: true, choices: [], placeholder: "step", runs_program: false },
      { key: "reload_command", label: "Reload command", help: "", field_type: "list", required: false, choices: [], placeholder: "", runs_program: true },
      { key: "enabled", label: "Enabled", help: "", field_type: "bool", required: false, choices: [], placeholder: "true", default: "true", runs_program: false },
      { key: "key_type", label: "Key type", help: "", field_type: "choice", required: false, choices: ["ec", "rsa"], placeholder: "", runs_program: false },
      { key: "ttl", label: "TTL hours", help: "", field_type: "number", required: false, choices: [], placeholder: "24", runs_program: false },
    ],
  },
  {
    kind: "vault_token",
    label: "Vault token",
    description: "",
    has_heartbeats: false,
    enrolment_token: null,
    fields: [{ key: "address", label: "Vault address", help: "", field_type: "url", required: true, choices: [], placeholder: "https://vault:8200", runs_program: false }],
  },
];

function input(name: string): HTMLInputElement {
  const el = screen.getByTestId("credential-form").querySelector<HTMLInputElement>(`[name="${name}"]`);
  if (!el) throw new Error(`no input named ${name}`);
  return el;
}

beforeEach(() => {
  vi.mocked(api.kinds).mockResolvedValue(structuredClone(KINDS));
  vi.mocked(api.saveCredential).mockReset();
  vi.mocked(api.credentialForm).mockReset();
});

describe("CredentialEditor", () => {
  it("renders the fields of a KindSchema", async () => {
    render(CredentialEditor, { props: { original: null, onclose: () => {} } });
    await screen.findByTestId("credential-form");

    const kind = input("kind") as unknown as HTMLSelectElement;
    expect(Array.from(kind.options).map((o) => o.textContent)).toEqual(["X.509 file", "Vault token"]);
    expect(kind.value).toBe("x509_file");
    expect(input("name").type).toBe("text");

    const path = screen.getByLabelText(/Certificate file/) as HTMLInputElement;
    expect(path).toBe(input("path"));
    expect(path.placeholder).toBe("~/certs/web.pem");
    expect(path.required).toBe(true);
    expect(path.closest(".field")?.textContent).toContain("*");
    expect(path.getAttribute("aria-describedby")).toBe("field-path-help");
    expect(document.getElementById("field-path-help")?.textContent).toBe("PEM file to watch.");

    expect(input("alt_names").tagName).toBe("TEXTAREA");
    expect(input("alt_names").readOnly).toBe(false);
    // A field that runs a program is shown, read-only, with where to change it.
    expect(input("reload_command").readOnly).toBe(true);
    expect(screen.getByTestId("program-field-reload_command").textContent).toContain("set or change it in the config file");
    expect(screen.queryByTestId("program-field-alt_names")).toBeNull();
    expect(input("enabled").type).toBe("checkbox");
    expect(input("enabled").checked).toBe(true);
    const keyType = input("key_type") as unknown as HTMLSelectElement;
    expect(keyType.tagName).toBe("SELECT");
    expect(Array.from(keyType.options).map((o) => o.value)).toEqual(["", "ec", "rsa"]);
    expect(input("ttl").type).toBe("number");

    // Another kind, other fields.
    await fireEvent.change(kind, { target: { value: "vault_token" } });
    expect(input("address").type).toBe("url");
    expect(screen.getByTestId("credential-form").querySelector('[name="path"]')).toBeNull();
  });

  it("shows problems inline under their field and field-less ones at the top", async () => {
    vi.mocked(api.saveCredential).mockResolvedValue({
      ok: false,
      problems: [
        { field: "path", message: "Use an absolute path." },
        { field: "name", message: "That name is taken." },
        { field: null, message: "The config file changed on disk." },
      ],
    });
    const onclose = vi.fn();
    render(CredentialEditor, { props: { original: null, onclose } });
    await screen.findByTestId("credential-form");

    await fireEvent.input(input("name"), { target: { value: "web" } });
    await fireEvent.input(input("path"), { target: { value: "certs/web.pem" } });
    await fireEvent.input(input("alt_names"), { target: { value: "step\nca\n\nrenew" } });
    await fireEvent.click(input("enabled"));
    await fireEvent.submit(screen.getByTestId("credential-form"));

    expect(api.saveCredential).toHaveBeenCalledWith(null, {
      name: "web",
      kind: "x509_file",
      values: { path: "certs/web.pem", alt_names: "step\nca\nrenew", enabled: "false" },
    });

    const path = input("path");
    await vi.waitFor(() => expect(path.getAttribute("aria-invalid")).toBe("true"));
    expect(path.getAttribute("aria-describedby")).toBe("field-path-help field-path-error");
    expect(document.getElementById("field-path-error")?.textContent).toBe("Use an absolute path.");
    expect(input("name").getAttribute("aria-invalid")).toBe("true");
    expect(document.getElementById("field-name-error")?.textContent).toBe("That name is taken.");
    expect(input("alt_names").getAttribute("aria-invalid")).toBeNull();
    expect(screen.getByTestId("form-problems").textContent).toContain("The config file changed on disk.");
    expect(screen.getByTestId("form-problems").textContent).not.toContain("absolute path");
    expect(onclose).not.toHaveBeenCalled();
  });

  it("closes after a successful save, and on Escape", async () => {
    vi.mocked(api.saveCredential).mockResolvedValue({ ok: true, problems: [] });
    const onclose = vi.fn();
    render(CredentialEditor, { props: { original: null, onclose } });
    await screen.findByTestId("credential-form");
    await fireEvent.submit(screen.getByTestId("credential-form"));
    await vi.waitFor(() => expect(onclose).toHaveBeenCalledWith(true));

    onclose.mockClear();
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(onclose).toHaveBeenCalledWith(false);
  });

  it("edits an existing credential", async () => {
    vi.mocked(api.credentialForm).mockResolvedValue({
      name: "web",
      kind: "x509_file",
      values: { path: "/certs/web.pem", alt_names: "step\nca", enabled: "false" },
    });
    vi.mocked(api.saveCredential).mockResolvedValue({ ok: true, problems: [] });
    const onclose = vi.fn();
    render(CredentialEditor, { props: { original: "web", onclose } });
    await screen.findByTestId("credential-form");
    expect(api.credentialForm).toHaveBeenCalledWith("web");
    expect(input("name").value).toBe("web");
    expect(input("path").value).toBe("/certs/web.pem");
    expect(input("enabled").checked).toBe(false);
    expect((input("kind") as unknown as HTMLSelectElement).disabled).toBe(true);

    await fireEvent.input(input("name"), { target: { value: "web2" } });
    await fireEvent.submit(screen.getByTestId("credential-form"));
    expect(api.saveCredential).toHaveBeenCalledWith("web", {
      name: "web2",
      kind: "x509_file",
      values: { path: "/certs/web.pem", alt_names: "step\nca", enabled: "false" },
    });
  });

  it("shows a rejected save at the top", async () => {
    vi.mocked(api.saveCredential).mockRejectedValue({ kind: "config", message: "cannot write config.toml" });
    render(CredentialEditor, { props: { original: null, onclose: () => {} } });
    await screen.findByTestId("credential-form");
    await fireEvent.submit(screen.getByTestId("credential-form"));
    expect((await screen.findByTestId("form-problems")).textContent).toContain("cannot write config.toml");
  });
});
