import { ChangeDetectionStrategy, Component, type ElementRef, inject, input, signal, viewChild } from '@angular/core';
import { NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButton, MatIconButton } from '@angular/material/button';
import { MatCard, MatCardContent } from '@angular/material/card';
import { MatError, MatFormField, MatLabel, MatSuffix } from '@angular/material/form-field';
import { MatInput } from '@angular/material/input';
import { Router } from '@angular/router';
import { loginRequestSchema } from '@iot/protocol';
import { AuthService } from '../core/auth/auth.service';
import { describeLoginError } from './login-error';

const USERNAME_MAX = loginRequestSchema.shape.username.maxLength ?? 64;
const PASSWORD_MAX = loginRequestSchema.shape.password.maxLength ?? 256;

/** Where to go after signing in: only a path of this app, never another origin or the login page. */
export function safeReturnUrl(value: string | undefined): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  return value.startsWith('/login') ? '/' : value;
}

@Component({
  selector: 'iot-login-page',
  imports: [
    ReactiveFormsModule,
    MatCard,
    MatCardContent,
    MatFormField,
    MatLabel,
    MatError,
    MatSuffix,
    MatInput,
    MatButton,
    MatIconButton,
  ],
  templateUrl: './login.page.html',
  styleUrl: './login.page.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class LoginPage {
  private readonly auth = inject(AuthService);
  private readonly router = inject(Router);
  private readonly passwordInput = viewChild.required<ElementRef<HTMLInputElement>>('password');
  private readonly usernameInput = viewChild.required<ElementRef<HTMLInputElement>>('username');

  /** The `returnUrl` query parameter (bound by the router). */
  readonly returnUrl = input<string>();

  protected readonly usernameMax = USERNAME_MAX;
  protected readonly passwordMax = PASSWORD_MAX;
  protected readonly form = inject(NonNullableFormBuilder).group({
    username: ['', [Validators.required, Validators.maxLength(USERNAME_MAX)]],
    password: ['', [Validators.required, Validators.maxLength(PASSWORD_MAX)]],
  });
  protected readonly pending = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly showPassword = signal(false);

  protected submit(): void {
    if (this.pending()) return;
    if (this.form.invalid) {
      this.form.markAllAsTouched();
      (this.form.controls.username.invalid ? this.usernameInput() : this.passwordInput()).nativeElement.focus();
      return;
    }
    this.pending.set(true);
    this.error.set(null);
    this.auth.login(this.form.getRawValue()).subscribe({
      next: () => void this.router.navigateByUrl(safeReturnUrl(this.returnUrl())),
      error: (error: unknown) => {
        this.pending.set(false);
        this.error.set(describeLoginError(error));
        this.form.controls.password.reset();
        this.passwordInput().nativeElement.focus();
      },
    });
  }
}
