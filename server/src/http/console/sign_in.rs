//! Signing in and out, and the set-up link's page where a new admin sets
//! a password.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::signed_in::{cleared_cookie, session_cookie, session_secret};
use super::{Failure, SignedIn, paths, render};
use crate::error::{AppError, ConsoleError};
use crate::http::client::ClientAddress;
use crate::service;
use crate::service::passwords::MIN_CHARS;
use crate::state::AppState;
use crate::store::console::SESSION_ABSOLUTE_MS;

#[derive(Template)]
#[template(path = "login.html")]
struct SignInPage {
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInNotice {
    done: Option<String>,
}

pub(super) async fn page(Query(query): Query<SignInNotice>) -> Result<Response, Failure> {
    let notice = match query.done.as_deref() {
        Some("password") => Some("Your password is set: sign in with it.".to_owned()),
        Some("out") => Some("You are signed out.".to_owned()),
        Some("everywhere") => Some("You are signed out on every device.".to_owned()),
        _ => None,
    };
    render(&SignInPage { email: String::new(), error: None, notice })
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    email: String,
    password: String,
}

pub(super) async fn submit(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    Form(form): Form<SignInForm>,
) -> Result<Response, Failure> {
    match service::admins::sign_in(&state.db, &state.sign_in, &form.email, &form.password, from).await {
        Ok(signed) => {
            let cookie = session_cookie(&signed.secret, state.console.secure_cookies, SESSION_ABSOLUTE_MS / 1000);
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(paths::DASHBOARD)).into_response())
        }
        Err(error @ (AppError::Console(_) | AppError::Limit(_))) => {
            let status = error.problem().0;
            let retry_after = match &error {
                AppError::Limit(crate::error::LimitError::RateLimited { retry_after_secs }) => Some(retry_after_secs.to_string()),
                _ => None,
            };
            let page = SignInPage { email: form.email.trim().to_owned(), error: Some(error.detail()), notice: None };
            let mut response = (status, render(&page)?).into_response();
            if let Some(secs) = retry_after.and_then(|s| s.parse().ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, secs);
            }
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

pub(super) async fn sign_out(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, Failure> {
    let secure = state.console.secure_cookies;
    if let Some(secret) = session_secret(&headers, secure) {
        service::admins::sign_out(&state.db, &secret).await?;
    }
    Ok(([(header::SET_COOKIE, cleared_cookie(secure))], Redirect::to("/login?done=out")).into_response())
}

pub(super) async fn sign_out_everywhere(State(state): State<AppState>, signed: SignedIn) -> Result<Response, Failure> {
    service::admins::sign_out_everywhere(&state.db, &signed.admin).await?;
    Ok(([(header::SET_COOKIE, cleared_cookie(state.console.secure_cookies))], Redirect::to("/login?done=everywhere")).into_response())
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    email: String,
    token: String,
    error: Option<String>,
    min_chars: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct SetupQuery {
    token: String,
}

pub(super) async fn setup_page(State(state): State<AppState>, Query(query): Query<SetupQuery>) -> Result<Response, Failure> {
    let admin = service::admins::setup_link(&state.db, &query.token).await?;
    render(&SetupPage { email: admin.email, token: query.token, error: None, min_chars: MIN_CHARS })
}

#[derive(Debug, Deserialize)]
pub(super) struct SetupForm {
    token: String,
    password: String,
    repeat: String,
}

pub(super) async fn setup_submit(State(state): State<AppState>, Form(form): Form<SetupForm>) -> Result<Response, Failure> {
    match service::admins::set_password(&state.db, &state.sign_in, &form.token, &form.password, &form.repeat).await {
        Ok(_) => Ok(Redirect::to("/login?done=password").into_response()),
        Err(AppError::Console(ConsoleError::Password(problem))) => {
            let admin = service::admins::setup_link(&state.db, &form.token).await?;
            let page = SetupPage { email: admin.email, token: form.token, error: Some(problem.to_string()), min_chars: MIN_CHARS };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
